// A child of `smallnet study` ends when the study does, however the study ended.
#if canImport(Glibc)
import Glibc
#endif

/// The environment variable through which `smallnet study` tells its children its process id.
let parentVariable = "SMALLNET_PARENT_PID"

/// When started by `smallnet study` (SMALLNET_PARENT_PID set), watches the parent from a
/// background thread and exits as soon as it is gone (killed with SIGKILL, say), so that no
/// training outlives its study and races a resumed one.
func exitWithStudyParent() {
    guard let text = getenv(parentVariable), let parent = Int32(String(cString: text)), parent > 1 else { return }
    if getppid() != parent { exit(3) }
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { parentRaw in
        let parent = Int32(Int(bitPattern: parentRaw))
        while getppid() == parent { usleep(50_000) }
        fputs("smallnet: error: the study that started this run has ended; stopping\n", stderr)
        _exit(3)
    }, UnsafeMutableRawPointer(bitPattern: Int(parent)))
    if rc == 0 { pthread_detach(thread) }
}
