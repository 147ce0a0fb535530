// `smallnet study`: the three tables of the parameter-budget study, run as parallel processes,
// resumable, then written up as JSON, CSV, Markdown and plots.
import ArgumentParser
import SmallNet
#if canImport(Glibc)
import Glibc
#endif

struct Study: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole parameter-budget study (FCN budgets, optimizers × learning rates, CNN budgets) and write a report.")

    @Option(help: "Output directory (runs, results.json, results.csv, report.md, plots).")
    var out: String = "study"
    @Option(help: "FashionMNIST directory (default: $SMALLNET_DATA or \(FashionMNIST.defaultDirectory)).")
    var data: String?
    @Option(help: "Runs in parallel; the threads are split between them.")
    var jobs: Int = 1
    @Option(help: "Total threads (default: all processors).")
    var threads: Int?
    @Flag(help: "The same pipeline, one short epoch on part of the data (a first look, or CI).")
    var quick = false

    func run() throws {
        guard jobs >= 1 && jobs <= 16 else { throw ValidationError("--jobs must be in 1...16") }
        let total = threads ?? ThreadPool.availableProcessors
        guard total >= 1 && total <= 64 else { throw ValidationError("--threads must be in 1...64") }
        setvbuf(stdout, nil, _IOLBF, 0)  // progress lines appear as they happen, also in a log file
        reportingErrors {
            let start = monotonicSeconds()
            let runsDirectory = "\(out)/runs"
            try makeDirectory(out)
            try makeDirectory(runsDirectory)
            // Check the data once here, so that a missing directory is one clear error.
            _ = try FashionMNIST.load(directory: FashionMNIST.resolveDirectory(data), train: false)
            let plan = StudyPlan.runs
            let pending = plan.filter { !isDone($0) }
            print("smallnet study: \(plan.count) runs, \(plan.count - pending.count) already done, \(min(jobs, max(pending.count, 1))) at a time\(quick ? " (quick)" : "")")
            let threadsPerJob = max(1, total / jobs)
            try runAll(pending, jobs: jobs, threadsPerJob: threadsPerJob)
            let results = try plan.map { run -> (StudyRun, JSON) in
                let path = resultPath(run)
                do { return (run, try JSON.parse(try readFile(path))) } catch let error as SmallNetError {
                    throw SmallNetError.io("\(path): \(error.message); run the study again to redo \(run.id)")
                }
            }
            let wall = monotonicSeconds() - start
            try StudyReport(results: results, quick: quick, wallSeconds: wall, resumedRuns: plan.count - pending.count)
                .write(to: out)
            plot()
            print("wrote \(out)/results.json, \(out)/results.csv, \(out)/report.md in \(fixed(wall, 1)) s")
        }
    }

    func resultPath(_ run: StudyRun) -> String { "\(out)/runs/\(run.id).json" }
    /// The `smallnet train` arguments a run's result was made with, one per line.
    func settingsPath(_ run: StudyRun) -> String { "\(out)/runs/\(run.id).args" }
    func settings(_ run: StudyRun) -> String { run.trainArguments(quick: quick).joined(separator: "\n") + "\n" }

    /// A run is done when its result exists, reads as JSON, and was made with today's settings
    /// (not, say, by a `--quick` study into the same directory, or by an older version of the plan).
    func isDone(_ run: StudyRun) -> Bool {
        guard access(resultPath(run), F_OK) == 0, let recorded = try? readFile(settingsPath(run)),
              recorded == Array(settings(run).utf8) else {
            return false
        }
        guard let text = try? readFile(resultPath(run)), (try? JSON.parse(text)) != nil else {
            print("  \(resultPath(run)) is damaged; running \(run.id) again")
            return false
        }
        return true
    }

    /// Runs `pending` as child processes of this executable, `jobs` at a time.
    func runAll(_ pending: [StudyRun], jobs: Int, threadsPerJob: Int) throws {
        var queue = pending[...]
        var running: [pid_t: (StudyRun, Double)] = [:]
        var failures: [String] = []
        while !queue.isEmpty || !running.isEmpty {
            while running.count < jobs, let run = queue.popFirst() {
                // A stale result goes first, so that a kill from here on leaves the run pending.
                unlink(resultPath(run))
                try writeTextFile(settingsPath(run), settings(run))
                var args = run.trainArguments(quick: quick) + ["--threads", String(threadsPerJob), "--json", resultPath(run)]
                if let data { args += ["--data", data] }
                let pid = try spawn(arguments: args, log: "\(out)/runs/\(run.id).log")
                running[pid] = (run, monotonicSeconds())
                print("  started \(run.id)")
            }
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            guard pid > 0, let (run, began) = running.removeValue(forKey: pid) else { continue }
            let exited = status & 0x7f == 0 && (status >> 8) & 0xff == 0
            if exited, access(resultPath(run), F_OK) == 0 {
                print("  finished \(run.id) in \(fixed(monotonicSeconds() - began, 1)) s")
            } else {
                failures.append(run.id)
                print("  FAILED \(run.id) (see \(out)/runs/\(run.id).log)")
            }
        }
        if !failures.isEmpty {
            throw SmallNetError.badState("\(failures.count) run(s) failed: \(failures.joined(separator: ", ")); run the study again to retry them")
        }
    }

    /// Starts this executable with `arguments`, its output going to `log`. The child learns this
    /// process's id (`SMALLNET_PARENT_PID`) and ends when this process does, even by SIGKILL.
    func spawn(arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let executable = "/proc/self/exe"
        let argv: [UnsafeMutablePointer<CChar>?] = (["smallnet"] + arguments).map { strdup($0) } + [nil]
        var environment: [UnsafeMutablePointer<CChar>?] = [strdup("\(parentVariable)=\(getpid())")]
        var entry = environ
        while let variable = entry.pointee {
            if !String(cString: variable).hasPrefix("\(parentVariable)=") { environment.append(strdup(variable)) }
            entry += 1
        }
        environment.append(nil)
        defer { for p in argv + environment { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environment)
        guard rc == 0 else { throw SmallNetError.io("cannot start a training process: \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Draws the plots with the Python package's plotting script (matplotlib); the report stands
    /// without them.
    func plot() {
        let script = repositoryPythonFolder().map { "'\($0)/smallnet/plots.py'" } ?? "-m smallnet.plots"
        if system("python3 \(script) '\(out)'") != 0 {
            fputs("smallnet: warning: plots not drawn (needs python3 with numpy and matplotlib: pip install matplotlib)\n", stderr)
        }
    }

    /// The repository's python/ folder when this executable runs from the build folder.
    func repositoryPythonFolder() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        var path = String(cString: buffer)
        for _ in 0..<4 {
            guard let slash = path.lastIndex(of: "/") else { return nil }
            path = String(path[..<slash])
            if access("\(path)/python/smallnet/plots.py", F_OK) == 0 { return "\(path)/python" }
        }
        return nil
    }
}

func makeDirectory(_ path: String) throws {
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
        throw SmallNetError.io("\(path): cannot create directory (\(String(cString: strerror(errno))))")
    }
}
