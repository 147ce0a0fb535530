// The smallnet command-line tool: train, evaluate, predict, study, info, bench.
import ArgumentParser
import SmallNet
import SmallNetKernels
#if canImport(Glibc)
import Glibc
#endif

@main
struct SmallNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smallnet",
        abstract: "Train and evaluate small FCN and CNN image classifiers on FashionMNIST, on the CPU.",
        version: SmallNetVersion.string,
        subcommands: [Train.self, Evaluate.self, Predict.self, Study.self, Info.self, Bench.self, Profile.self])

    /// Refuses a CPU the engine cannot run on (one line, exit status 1) before any of it runs.
    static func main() {
        if let problem = ISAChoice.process.problem { fail(problem) }
        main(nil)
    }
}

/// Prints `message` on stderr as one line and exits with status 1.
func fail(_ message: String) -> Never {
    fputs("smallnet: error: \(message)\n", stderr)
    exit(1)
}

/// Runs `body`, turning an engine error into one clear line on stderr and exit status 1.
func reportingErrors<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch let error as SmallNetError { fail(error.message) } catch { fail("\(error)") }
}

/// The kernels' thread pool for `--threads` (default: all processors; nil for one thread).
/// - Throws: `invalidArgument` outside 1...64, the range training accepts.
func threadPool(_ threads: Int?) throws -> ThreadPool? {
    let count = threads ?? ThreadPool.availableProcessors
    guard count >= 1 && count <= 64 else { throw SmallNetError.invalidArgument("--threads must be in 1...64, got \(count)") }
    return count > 1 ? ThreadPool(threads: count) : nil
}
