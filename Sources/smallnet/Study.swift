// `smallnet study`: the three tables of the parameter-budget study, run as parallel processes or
// on a Dask or Ray cluster, resumable, selectable and shardable, then written up as JSON, CSV,
// Markdown and plots.
import ArgumentParser
import SmallNet
#if canImport(Glibc)
import Glibc
#endif

struct Study: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole parameter-budget study (FCN budgets, optimizers × learning rates, CNN budgets) and write a report.",
        discussion: """
            Finished runs are kept in OUT/runs/ (ID.json, ID.args, ID.log), so a study resumes where it \
            stopped, locally or on a cluster, and shards run into one directory make one study.
            """)

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
    @Option(help: "Repeat each cell with seeds 0…N−1; the tables show mean ± standard deviation.")
    var seeds: Int = 1
    @Flag(help: "Print the runs (id and `smallnet train` arguments) and exit.")
    var list = false
    @Option(help: "Format of --list: text or json.")
    var format: String = "text"
    @Option(parsing: .upToNextOption, help: "Only these runs or cells (ids as --list prints them; a cell id takes all its seeds).")
    var only: [String] = []
    @Option(help: "Only shard K of N (K/N): every Nth run of the plan from the Kth; shards share one --out.")
    var shard: String?
    @Option(help: "Run on a Dask scheduler (tcp://HOST:PORT) or on Ray (ray, ray://HOST:PORT), one worker thread per run, through python3 and smallnet.sweeps.")
    var scheduler: String?

    /// How many times a local run killed by a signal (the OOM killer, say) is started again.
    static let retries = 2

    func run() throws {
        guard jobs >= 1 && jobs <= 16 else { throw ValidationError("--jobs must be in 1...16") }
        let total = threads ?? ThreadPool.availableProcessors
        guard total >= 1 && total <= 64 else { throw ValidationError("--threads must be in 1...64") }
        guard seeds >= 1 && seeds <= 100 else { throw ValidationError("--seeds must be in 1...100") }
        guard format == "text" || format == "json" else { throw ValidationError("--format must be text or json") }
        if scheduler != nil && threads != nil {
            throw ValidationError("--threads is for local runs; on a cluster each run takes the one thread its worker grants")
        }
        let plan = StudyPlan.runs(seeds: seeds)
        let selected = try select(plan)
        if list { return printList(selected) }
        setvbuf(stdout, nil, _IOLBF, 0)  // progress lines appear as they happen, also in a log file
        reportingErrors {
            let start = monotonicSeconds()
            let runsDirectory = "\(out)/runs"
            try makeDirectory(out)
            try makeDirectory(runsDirectory)
            if scheduler == nil {
                // Check the data once here, so that a missing directory is one clear error.
                _ = try FashionMNIST.load(directory: FashionMNIST.resolveDirectory(data), train: false)
            }
            let pending = selected.filter { !isDone($0) }
            let shardNote = selected.count < plan.count ? " (of \(plan.count) in the plan)" : ""
            let place = scheduler.map { "on \($0)" } ?? "\(min(jobs, max(pending.count, 1))) at a time"
            print("smallnet study: \(selected.count) runs\(shardNote), \(selected.count - pending.count) already done, \(place)\(quick ? " (quick)" : "")")
            if let scheduler {
                try runOnCluster(pending, scheduler: scheduler)
            } else {
                try runAll(pending, jobs: jobs, threadsPerJob: max(1, total / jobs))
            }
            let results = plan.compactMap { run in recordedResult(run).map { (run: run, json: $0) } }
            let wall = monotonicSeconds() - start
            let report = StudyReport(plan: plan, results: results, quick: quick, seeds: seeds, wallSeconds: wall,
                                     ranRuns: pending.count, scheduler: scheduler)
            try report.write(to: out)
            plot()
            print("wrote \(out)/results.json, \(out)/results.csv, \(out)/report.md in \(fixed(wall, 1)) s")
            let failed = selected.filter { run in report.failedIDs.contains(run.id) }
            if !failed.isEmpty {
                throw SmallNetError.badState("\(failed.count) run(s) failed: \(failed.map(\.id).joined(separator: ", ")); "
                    + "see \(out)/report.md and \(out)/runs/ID.log; run the study again to retry them")
            }
            if !report.pendingIDs.isEmpty {
                print("\(report.pendingIDs.count) run(s) of the plan have no result yet (other shards, or --only)")
            }
        }
    }

    // MARK: Which runs

    /// The runs of `plan` that `--only` and `--shard` select, in plan order.
    func select(_ plan: [StudyRun]) throws -> [StudyRun] {
        var runs = plan
        if !only.isEmpty {
            let known = Set(plan.map(\.id) + plan.map(\.cell))
            if let unknown = only.first(where: { !known.contains($0) }) {
                throw ValidationError("--only: no run or cell '\(unknown)'; `smallnet study --list\(quick ? " --quick" : "")\(seeds > 1 ? " --seeds \(seeds)" : "")` lists them")
            }
            let wanted = Set(only)
            runs = runs.filter { wanted.contains($0.id) || wanted.contains($0.cell) }
        }
        if let shard {
            let parts = shard.split(separator: "/")
            guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, k >= 1, k <= n else {
                throw ValidationError("--shard must be K/N with 1 ≤ K ≤ N, e.g. 1/2, got '\(shard)'")
            }
            runs = runs.enumerated().filter { $0.offset % n == k - 1 }.map(\.element)
        }
        return runs
    }

    func printList(_ runs: [StudyRun]) {
        if format == "json" {
            let items = runs.map { run -> JSON in
                .object([("id", .string(run.id)), ("cell", .string(run.cell)), ("table", .number(run.table)),
                         ("seed", .number(run.seed)), ("args", .array(run.trainArguments(quick: quick).map { .string($0) }))])
            }
            print(JSON.array(items).serialized(indent: 2))
            return
        }
        let width = runs.map(\.id.count).max() ?? 0
        for run in runs {
            print("\(pad(run.id, width))  smallnet \(run.trainArguments(quick: quick).joined(separator: " "))")
        }
    }

    // MARK: Results on disk

    func resultPath(_ run: StudyRun) -> String { "\(out)/runs/\(run.id).json" }
    /// The `smallnet train` arguments a run's result was made with, one per line.
    func settingsPath(_ run: StudyRun) -> String { "\(out)/runs/\(run.id).args" }
    func settings(_ run: StudyRun) -> String { run.trainArguments(quick: quick).joined(separator: "\n") + "\n" }

    /// The run's result (finished or failed) when it was made with today's settings (not, say, by
    /// a `--quick` study into the same directory, or by an older version of the plan).
    func recordedResult(_ run: StudyRun, warnIfDamaged: Bool = false) -> JSON? {
        guard access(resultPath(run), F_OK) == 0, let recorded = try? readFile(settingsPath(run)),
              recorded == Array(settings(run).utf8) else {
            return nil
        }
        guard let text = try? readFile(resultPath(run)), let json = try? JSON.parse(text) else {
            if warnIfDamaged { print("  \(resultPath(run)) is damaged; running \(run.id) again") }
            return nil
        }
        return json
    }

    /// A run is done when its result exists, reads as JSON, was made with today's settings and
    /// did not fail (failed runs are tried again).
    func isDone(_ run: StudyRun) -> Bool {
        guard let json = recordedResult(run, warnIfDamaged: true) else { return false }
        return json["status"]?.stringValue != "failed"
    }

    /// Records a run that failed for its own reasons (bad settings, divergence) with its error.
    func recordFailure(_ run: StudyRun, error: String) {
        let json = JSON.object(resultHeader() + [("id", .string(run.id)), ("status", .string("failed")), ("error", .string(error)),
                                                 ("args", .array(run.trainArguments(quick: quick).map { .string($0) }))])
        try? writeTextFile(resultPath(run), json.serialized(indent: 2) + "\n")
    }

    // MARK: Running

    /// `runs` with the most work first (`StudyRun.work`; plan order among equals), the order they
    /// start in, locally or on a cluster: no long run starts last and runs alone.
    func longestFirst(_ runs: [StudyRun]) -> [StudyRun] {
        let work = runs.map { $0.work(quick: quick) }
        return runs.indices.sorted { work[$0] != work[$1] ? work[$0] > work[$1] : $0 < $1 }.map { runs[$0] }
    }

    /// Runs `pending` as child processes of this executable, `jobs` at a time, longest first; a
    /// run killed by a signal is started again (at most `Study.retries` times), one that fails is
    /// recorded.
    func runAll(_ pending: [StudyRun], jobs: Int, threadsPerJob: Int) throws {
        var queue = longestFirst(pending)[...]
        var running: [pid_t: (run: StudyRun, began: Double, attempt: Int)] = [:]
        var attempts: [String: Int] = [:]
        while !queue.isEmpty || !running.isEmpty {
            while running.count < jobs, let run = queue.popFirst() {
                // A stale result goes first, so that a kill from here on leaves the run pending.
                unlink(resultPath(run))
                try writeTextFile(settingsPath(run), settings(run))
                var args = run.trainArguments(quick: quick) + ["--threads", String(threadsPerJob), "--json", resultPath(run)]
                if let data { args += ["--data", data] }
                let pid = try spawn(executablePath(), args, log: "\(out)/runs/\(run.id).log")
                attempts[run.id, default: 0] += 1
                running[pid] = (run, monotonicSeconds(), attempts[run.id]!)
                print("  started \(run.id)")
            }
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            guard pid > 0, let (run, began, attempt) = running.removeValue(forKey: pid) else { continue }
            let signal = status & 0x7f
            let exited = signal == 0 && (status >> 8) & 0xff == 0
            if exited, access(resultPath(run), F_OK) == 0 {
                print("  finished \(run.id) in \(fixed(monotonicSeconds() - began, 1)) s")
            } else if signal != 0 && attempt <= Study.retries {
                print("  \(run.id) was killed by signal \(signal); starting it again")
                queue.append(run)
            } else {
                let log = "\(out)/runs/\(run.id).log"
                let error = signal != 0 ? "killed by signal \(signal) \(attempt) times" : lastError(inLog: log)
                recordFailure(run, error: error)
                print("  FAILED \(run.id): \(error) (see \(log))")
            }
        }
    }

    /// The error line `smallnet train` printed last in `log`, or its last line.
    func lastError(inLog log: String) -> String {
        let text = (try? readFile(log)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let lines = text.split(separator: "\n").map { String($0) }.filter { !$0.isEmpty }
        if let line = lines.last(where: { $0.hasPrefix("smallnet: error:") || $0.hasPrefix("Error:") }) {
            let message = line.hasPrefix("Error:") ? line.dropFirst("Error:".count) : line.dropFirst("smallnet: error:".count)
            return message.trimmingPrefix(" ").description
        }
        return lines.last.map { "failed: \($0)" } ?? "failed without a message"
    }

    /// Hands `pending` to `smallnet.sweeps` (python3), which runs them on the cluster at
    /// `scheduler` and writes each result into OUT/runs/ as it finishes.
    func runOnCluster(_ pending: [StudyRun], scheduler: String) throws {
        guard !pending.isEmpty else { return }
        let planPath = "\(out)/runs/.sweep-plan.json"
        let plan = JSON.array(longestFirst(pending).map { run in
            .object([("id", .string(run.id)), ("args", .array(run.trainArguments(quick: quick).map { .string($0) }))])
        })
        try writeTextFile(planPath, plan.serialized(indent: 1) + "\n")
        defer { unlink(planPath) }
        var args = pythonModule("sweeps") + ["--plan", planPath, "--out", "\(out)/runs", "--scheduler", scheduler,
                                             "--cli", executablePath()]
        if let data { args += ["--data", data] }
        let pid: pid_t
        do { pid = try spawn("python3", args, log: nil) } catch let error as SmallNetError {
            throw SmallNetError.io("\(error.message) (--scheduler needs python3 with dask[distributed] or ray)")
        }
        let status = waitFor(pid)
        // 0: every run finished; 1: some failed (recorded, reported below); else the sweep itself failed.
        if status != 0 && status != 1 << 8 {
            throw SmallNetError.badState("the runs on \(scheduler) could not be completed (smallnet.sweeps: "
                + "\(describe(status))); run the study again to resume")
        }
    }

    /// Draws the plots with the Python package's plotting script (numpy and matplotlib), without a
    /// shell; the report stands without them, and a failure says what failed.
    func plot() {
        let log = "\(out)/plots.log"
        do {
            let pid = try spawn("python3", pythonModule("plots") + [out], log: log)
            let status = waitFor(pid)
            if status == 0 {
                unlink(log)
                return
            }
            let text = (try? readFile(log)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let last = text.split(separator: "\n").last.map(String.init) ?? describe(status)
            let hint = last.contains("No module named") ? " (pip install 'smallnet[plots]', or numpy and matplotlib)" : ""
            warn("plots not drawn: \(last)\(hint); the whole message is in \(log)")
        } catch let error as SmallNetError {
            warn("plots not drawn: \(error.message)")
        } catch {
            warn("plots not drawn: \(error)")
        }
    }

    /// The arguments of python3 that run `smallnet.<module>`: the repository's file when this
    /// executable runs from the build folder (no need for the package to be installed), else `-m`.
    func pythonModule(_ module: String) -> [String] {
        if let folder = repositoryPythonFolder() { return ["\(folder)/smallnet/\(module).py"] }
        return ["-m", "smallnet.\(module)"]
    }

    /// The repository's python/ folder when this executable runs from the build folder.
    func repositoryPythonFolder() -> String? {
        var path = executablePath()
        for _ in 0..<4 {
            guard let slash = path.lastIndex(of: "/") else { return nil }
            path = String(path[..<slash])
            if access("\(path)/python/smallnet/plots.py", F_OK) == 0 { return "\(path)/python" }
        }
        return nil
    }
}

/// This executable's path.
func executablePath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    return n > 0 ? String(cString: buffer) : "/proc/self/exe"
}

/// Starts `executable` (looked up on PATH when it has no slash) with `arguments`, its output going
/// to `log` when given (else to this process's). The child learns this process's id
/// (`SMALLNET_PARENT_PID`) and, if it is smallnet, ends when this process does, even by SIGKILL.
func spawn(_ executable: String, _ arguments: [String], log: String?) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let log {
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    let name = executable.split(separator: "/").last.map(String.init) ?? executable
    let argv: [UnsafeMutablePointer<CChar>?] = ([name] + arguments).map { strdup($0) } + [nil]
    var environment: [UnsafeMutablePointer<CChar>?] = [strdup("\(parentVariable)=\(getpid())")]
    var entry = environ
    while let variable = entry.pointee {
        if !String(cString: variable).hasPrefix("\(parentVariable)=") { environment.append(strdup(variable)) }
        entry += 1
    }
    environment.append(nil)
    defer { for p in argv + environment { free(p) } }
    var pid: pid_t = 0
    let rc = executable.contains("/")
        ? posix_spawn(&pid, executable, &actions, nil, argv, environment)
        : posix_spawnp(&pid, executable, &actions, nil, argv, environment)
    guard rc == 0 else { throw SmallNetError.io("cannot start \(executable): \(String(cString: strerror(rc)))") }
    return pid
}

/// Waits for `pid` to end; its wait status.
func waitFor(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status
}

/// A wait status in words: "exit status 2", "killed by signal 9".
func describe(_ status: Int32) -> String {
    status & 0x7f == 0 ? "exit status \((status >> 8) & 0xff)" : "killed by signal \(status & 0x7f)"
}

func makeDirectory(_ path: String) throws {
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
        throw SmallNetError.io("\(path): cannot create directory (\(String(cString: strerror(errno))))")
    }
}
