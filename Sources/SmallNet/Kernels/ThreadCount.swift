// How many threads to use by default: the CPUs this process may run on, or what the environment asks for.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The default thread count and where it came from.
///
/// In order of precedence:
/// 1. `SMALLNET_NUM_THREADS`, a whole number in 1...64;
/// 2. `OMP_NUM_THREADS` (its first entry when it is a list), when `SMALLNET_NUM_THREADS` is unset;
/// 3. the CPUs this process may use: the size of its CPU affinity mask (`sched_getaffinity`, so
///    `taskset -c 0` gives 1), bounded by a cgroup CPU quota where one is set (cgroup v2
///    `cpu.max`, cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), rounded up, at least 1.
///
/// A value that is not a whole number in 1...64 is ignored, and the source says so.
/// Everything is read once, on first use.
public enum ThreadCount {
    /// The largest thread count a pool takes.
    public static let maximum = 64

    /// The default thread count and its source, e.g. `(2, "affinity mask (2 CPUs)")`,
    /// `(2, "cgroup quota 1.5 CPUs")`, `(3, "SMALLNET_NUM_THREADS=3")`.
    public static let `default`: (count: Int, source: String) = resolve(
        cpus: usableCPUs, smallnet: environment("SMALLNET_NUM_THREADS"), omp: environment("OMP_NUM_THREADS"))

    /// The CPUs this process may run on: the affinity mask bounded by the cgroup quota (the
    /// environment variables do not change it). Idle pool workers spin only while the process's
    /// busy pool threads fit in this many CPUs.
    public static let usableCPUs: (count: Int, source: String) = cpuLimit(
        affinity: affinityCPUs(), quota: cgroupQuota())

    // MARK: Pure rules (tested with strings)

    /// Combines the CPUs the process may use with the environment variables' values (nil: unset).
    static func resolve(cpus: (count: Int, source: String), smallnet: String?, omp: String?)
        -> (count: Int, source: String) {
        var ignored: [String] = []
        for (name, value) in [("SMALLNET_NUM_THREADS", smallnet), ("OMP_NUM_THREADS", omp)] {
            guard let value, !value.isEmpty else { continue }
            // OpenMP allows a list of counts, one per nesting level; the first is the outer one.
            let first = name == "OMP_NUM_THREADS" ? String(value.split(separator: ",", omittingEmptySubsequences: false)[0]) : value
            if let n = parseCount(first) { return (n, ([name + "=" + value] + ignored).joined(separator: "; ")) }
            ignored.append("\(name)=\(quoted(value)) ignored (not a whole number in 1...\(maximum))")
        }
        return (cpus.count, ([cpus.source] + ignored).joined(separator: "; "))
    }

    /// A thread count from an environment value: a whole number in 1...64 (blanks around it
    /// allowed), else nil.
    static func parseCount(_ value: String) -> Int? {
        guard let n = Int(trimmed(value)), n >= 1, n <= maximum else { return nil }
        return n
    }

    /// The CPU count from the affinity mask's size (nil: unknown, use the online processors)
    /// bounded by a cgroup quota in CPUs (nil: none).
    static func cpuLimit(affinity: Int?, quota: Double?) -> (count: Int, source: String) {
        let mask = affinity.map { ($0, "affinity mask (\($0) CPU\($0 == 1 ? "" : "s"))") }
            ?? (Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))), "online processors")
        var (count, source) = (Swift.max(1, mask.0), mask.1)
        if let quota {
            let bound = Swift.max(1, Int(quota.rounded(.up)))
            if bound < count { (count, source) = (bound, "cgroup quota \(formatCPUs(quota)) CPUs") }
        }
        if count > maximum { (count, source) = (maximum, source + ", capped at \(maximum)") }
        return (count, source)
    }

    /// The quota in CPUs from a cgroup v2 `cpu.max` ("150000 100000" → 1.5); nil for "max …",
    /// a malformed line or a period that is not positive.
    static func parseCPUMax(_ contents: String) -> Double? {
        let fields = trimmed(contents).split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 2, let period = Int(fields[1]) else { return nil }
        return quotaCPUs(quota: String(fields[0]), period: period)
    }

    /// The quota in CPUs from cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` contents;
    /// nil for -1 (no limit) or malformed contents.
    static func parseCFSQuota(quota: String, period: String) -> Double? {
        guard let p = Int(trimmed(period)) else { return nil }
        return quotaCPUs(quota: trimmed(quota), period: p)
    }

    /// The cgroup paths of this process from `/proc/self/cgroup` contents: the v2 path (line
    /// `0::PATH`) and the v1 path of the `cpu` controller (a line `N:…cpu…:PATH`).
    static func parseProcCgroup(_ contents: String) -> (v2: String?, v1cpu: String?) {
        var v2: String?, v1: String?
        for line in contents.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty { v2 = String(fields[2]) }
            if fields[1].split(separator: ",").contains("cpu") { v1 = String(fields[2]) }
        }
        return (v2, v1)
    }

    private static func quotaCPUs(quota: String, period: Int) -> Double? {
        guard period > 0, let q = Int(quota), q > 0 else { return nil }  // "max" and -1: no limit
        return Double(q) / Double(period)
    }

    /// "1.5", "2", "0.33": the CPU count to two decimals.
    static func formatCPUs(_ cpus: Double) -> String {
        let hundredths = Int((cpus * 100).rounded())
        let whole = hundredths / 100, fraction = hundredths % 100
        if fraction == 0 { return "\(whole)" }
        return fraction % 10 == 0 ? "\(whole).\(fraction / 10)" : "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    private static func trimmed(_ s: String) -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let lo = s.firstIndex(where: { !isBlank($0) }), let hi = s.lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(s[lo...hi])
    }

    private static func quoted(_ value: String) -> String {
        "\"" + (value.count > 20 ? String(value.prefix(20)) + "…" : value) + "\""
    }

    // MARK: Reading the system

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The number of CPUs in this process's affinity mask, nil where it cannot be read.
    static func affinityCPUs() -> Int? {
        #if os(Linux)
        // sched_getaffinity is a GNU extension the Glibc module does not import; look it up.
        typealias GetAffinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
        guard let symbol = dlsym(nil, "sched_getaffinity") else { return nil }
        let getAffinity = unsafeBitCast(symbol, to: GetAffinity.self)
        var bytes = 128  // 1024 CPUs; doubled while the kernel says the mask is larger
        while bytes <= 1 << 16 {
            let mask = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 8)
            defer { mask.deallocate() }
            mask.initializeMemory(as: UInt8.self, repeating: 0)
            if getAffinity(0, bytes, mask.baseAddress!) == 0 {
                let n = mask.reduce(0) { $0 + $1.nonzeroBitCount }
                return n > 0 ? n : nil
            }
            if errno != EINVAL { return nil }
            bytes *= 2
        }
        return nil
        #else
        return nil
        #endif
    }

    /// The tightest cgroup CPU quota over this process's cgroup and its ancestors, in CPUs.
    static func cgroupQuota() -> Double? {
        let paths: (v2: String?, v1cpu: String?) = readTextFile("/proc/self/cgroup").map(parseProcCgroup) ?? (nil, nil)
        var quotas: [Double] = []
        // cgroup v2: cpu.max in the process's cgroup and each parent under the mount point.
        for dir in ancestors(of: paths.v2, under: "/sys/fs/cgroup") {
            if let q = readTextFile(dir + "/cpu.max").flatMap(parseCPUMax) { quotas.append(q) }
        }
        // cgroup v1: the cpu controller, mounted alone or together with cpuacct.
        for mount in ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu"] {
            for dir in ancestors(of: paths.v1cpu, under: mount) {
                if let quota = readTextFile(dir + "/cpu.cfs_quota_us"), let period = readTextFile(dir + "/cpu.cfs_period_us"),
                   let q = parseCFSQuota(quota: quota, period: period) { quotas.append(q) }
            }
        }
        return quotas.min()
    }

    /// `mount/PATH`, its parents, down to `mount` itself (inside a container the path may not
    /// exist under the mount; the mount's own folder is then the container's cgroup).
    private static func ancestors(of path: String?, under mount: String) -> [String] {
        var parts = (path ?? "").split(separator: "/").map(String.init)
        var dirs: [String] = []
        while !parts.isEmpty {
            dirs.append(mount + "/" + parts.joined(separator: "/"))
            parts.removeLast()
        }
        return dirs + [mount]
    }

    /// The first 4 KB of a small text file (as in /proc and /sys), nil when it cannot be read.
    private static func readTextFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        return String(decoding: buffer[..<n], as: UTF8.self)
    }
}
