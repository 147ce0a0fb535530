// The study's write-up: results.json, results.csv and report.md, from the runs' results.
import SmallNet
#if canImport(Glibc)
import Glibc
#endif

/// The recorded runs of a study and how to write them up. Each table cell shows the mean (and,
/// over several seeds, the sample standard deviation) of its finished runs.
struct StudyReport {
    /// Every run of the plan, recorded or not.
    let plan: [StudyRun]
    /// The runs with a result: the JSON `smallnet train --json` wrote, or a failure record
    /// (`"status": "failed"`, `"error"`).
    let results: [(run: StudyRun, json: JSON)]
    let quick: Bool
    let seeds: Int
    let wallSeconds: Double
    /// Runs this invocation ran (the others were done before it, or belong to other shards).
    let ranRuns: Int
    /// Where the runs of this invocation ran: a Dask or Ray address, nil for local processes.
    let scheduler: String?

    func accuracy(_ json: JSON) -> Double { json["test_accuracy"]?.doubleValue ?? .nan }
    func seconds(_ json: JSON) -> Double { json["train_seconds"]?.doubleValue ?? .nan }
    func params(_ json: JSON) -> Int { json["params"]?.intValue ?? 0 }
    func failed(_ json: JSON) -> Bool { json["status"]?.stringValue == "failed" }

    var finished: [(run: StudyRun, json: JSON)] { results.filter { !failed($0.json) } }
    var failedIDs: Set<String> { Set(results.filter { failed($0.json) }.map(\.run.id)) }
    var pendingIDs: [String] {
        let recorded = Set(results.map(\.run.id))
        return plan.map(\.id).filter { !recorded.contains($0) }
    }

    /// The cells of `table` in plan order, each with its finished results and its runs in all.
    func cells(_ table: Int) -> [(first: StudyRun, runs: [StudyRun], done: [JSON])] {
        var order: [String] = []
        var runs: [String: [StudyRun]] = [:]
        for run in plan where run.table == table {
            if runs[run.cell] == nil { order.append(run.cell) }
            runs[run.cell, default: []].append(run)
        }
        return order.map { cell in
            let done = finished.filter { $0.run.cell == cell }.map(\.json)
            return (runs[cell]![0], runs[cell]!, done)
        }
    }

    /// Mean and sample standard deviation (nil under two values).
    func meanStd(_ xs: [Double]) -> (mean: Double, std: Double?) {
        let mean = xs.reduce(0, +) / Double(xs.count)
        guard xs.count > 1 else { return (mean, nil) }
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count - 1)
        return (mean, variance.squareRoot())
    }

    /// "89.37 %", or "89.37 ± 0.12 %" over several seeds, with "(2 of 3 seeds)" when some are
    /// missing; "pending" or "failed" for a cell without results.
    func accuracyText(_ cell: (first: StudyRun, runs: [StudyRun], done: [JSON])) -> String {
        guard !cell.done.isEmpty else {
            return cell.runs.contains { failedIDs.contains($0.id) } ? "failed" : "pending"
        }
        let (mean, std) = meanStd(cell.done.map(accuracy))
        var text = fixed(100 * mean, 2) + (std.map { " ± " + fixed(100 * $0, 2) } ?? "") + " %"
        if seeds > 1 && cell.done.count < cell.runs.count { text += " (\(cell.done.count) of \(cell.runs.count) seeds)" }
        return text
    }

    func percentText(_ x: Double) -> String { fixed(100 * x, 2) + " %" }
    func delta(_ done: [JSON], _ published: Double?) -> String {
        guard let published, !done.isEmpty else { return "" }
        let d = 100 * (meanStd(done.map(accuracy)).mean - published)
        return (d >= 0 ? "+" : "") + fixed(d, 2)
    }
    func timeText(_ done: [JSON]) -> String { done.isEmpty ? "" : fixed(meanStd(done.map(seconds)).mean, 1) + " s" }

    // MARK: What the runs were made with

    /// Distinct values of `key` over the finished runs, most frequent first, with counts when they differ.
    func distinct(_ values: [String]) -> String {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for v in values {
            if counts[v] == nil { order.append(v) }
            counts[v, default: 0] += 1
        }
        if order.count <= 1 { return order.first ?? "" }
        return order.sorted { counts[$0]! > counts[$1]! }.map { "\($0) (\(counts[$0]!) runs)" }.joined(separator: "; ")
    }
    var versions: String { distinct(finished.compactMap { $0.json["smallnet_version"]?.stringValue }).nonEmpty ?? SmallNetVersion.string }
    var cpus: String {
        distinct(finished.map { $0.json["cpu"]?.stringValue ?? "not recorded (an older smallnet)" }).nonEmpty ?? cpuModel()
    }
    var threadsPerRun: String {
        distinct(finished.compactMap { $0.json["config"]?["threads"]?.intValue.map(String.init) }).nonEmpty ?? "none run yet"
    }
    var seedsText: String { seeds == 1 ? "0" : "0–\(seeds - 1) (\(seeds) per cell)" }

    // MARK: Files

    func write(to directory: String) throws {
        try writeTextFile("\(directory)/results.json", resultsJSON.serialized(indent: 2) + "\n")
        try writeTextFile("\(directory)/results.csv", csv)
        try writeTextFile("\(directory)/report.md", markdown)
    }

    var resultsJSON: JSON {
        let cellSummaries = [1, 2, 3].flatMap { table in
            cells(table).map { cell -> JSON in
                let stats = cell.done.isEmpty ? nil : meanStd(cell.done.map(accuracy))
                return .object([
                    ("cell", .string(cell.first.cell)), ("table", .number(table)), ("runs", .number(cell.runs.count)),
                    ("finished", .number(cell.done.count)),
                    ("mean_accuracy", stats.map { .number($0.mean) } ?? .null),
                    ("std_accuracy", stats?.std.map { .number($0) } ?? .null),
                ])
            }
        }
        return .object([
            ("smallnet_version", .string(SmallNetVersion.string)),
            ("quick", .bool(quick)),
            ("seeds", .number(seeds)),
            ("cpu", .string(cpus)),
            ("threads_per_run", .string(threadsPerRun)),
            ("scheduler", scheduler.map { .string($0) } ?? .null),
            ("wall_seconds", .number(wallSeconds)),
            ("ran_runs", .number(ranRuns)),
            ("resumed_runs", .number(results.count - ranRuns)),
            ("table2_epochs", .number(StudyPlan.table2Epochs)),
            ("table2_settings", .array(StudyPlan.table2Settings.map { .string($0) })),
            ("pending", .array(pendingIDs.map { .string($0) })),
            ("failed", .array(plan.map(\.id).filter(failedIDs.contains).map { .string($0) })),
            ("cells", .array(cellSummaries)),
            ("runs", .array(results.map { run, json in
                .object([
                    ("id", .string(run.id)), ("cell", .string(run.cell)), ("seed", .number(run.seed)),
                    ("table", .number(run.table)), ("arch", .string(run.arch.rawValue)),
                    ("budget", .number(run.budget)), ("optimizer", run.optimizer.map { .string($0.rawValue) } ?? .null),
                    ("lr", run.learningRate.map { .number($0) } ?? .null),
                    ("published_accuracy", run.published.map { .number($0) } ?? .null),
                    ("status", .string(failed(json) ? "failed" : "ok")),
                    ("result", json),
                ])
            })),
        ])
    }

    var csv: String {
        var lines = ["table,id,arch,budget,params,optimizer,lr,epochs,test_accuracy,published_accuracy,train_seconds,seed,status"]
        for (run, json) in results {
            let ok = !failed(json)
            let fields: [String] = [
                String(run.table), run.id, run.arch.rawValue, String(run.budget), ok ? String(params(json)) : "",
                json["optimizer"]?.stringValue ?? "", json["lr"]?.doubleValue.map { "\(Float($0))" } ?? "",
                json["epochs"]?.intValue.map(String.init) ?? "", ok ? fixed(accuracy(json), 4) : "",
                run.published.map { fixed($0, 4) } ?? "", ok ? fixed(seconds(json), 1) : "", String(run.seed),
                ok ? "ok" : "failed",
            ]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    var markdown: String {
        var md = ["# smallnet parameter-budget study", ""]
        md += ["- smallnet \(versions)",
               "- CPU: \(cpus)",
               "- threads per run: \(threadsPerRun)",
               "- seeds: \(seedsText)" + (seeds > 1 ? "; each cell shows the mean ± sample standard deviation over its seeds" : ""),
               "- runs: \(finished.count) finished, \(failedIDs.count) failed, \(pendingIDs.count) pending, of \(plan.count)"
                   + (scheduler.map { "; this invocation ran \(ranRuns) on \($0)" } ?? ""),
               ""]
        if quick {
            md += ["**Quick run** (`--quick`): one epoch on part of the training data, to check the pipeline; the",
                   "figures are not comparable with the report's.", ""]
        }
        md += ["Test accuracy on the real FashionMNIST test set (10,000 images), next to the reference report's",
               "published figure. Training time is wall-clock seconds of the training loop" + (seeds > 1 ? " (mean over seeds)." : "."), ""]
        md += ["## Table 1: fully-connected networks", "",
               "| budget | parameters | layers | test accuracy | report | Δ (points) | training time |",
               "|---:|---:|---|---:|---:|---:|---:|"]
        for cell in cells(1) {
            let json = cell.done.first
            let layers = (json?["layers"]?.arrayValue ?? []).compactMap(\.stringValue).filter { $0.hasPrefix("Linear") }
            md.append("| \(cell.first.budget / 1000)K | \(json.map { String(params($0)) } ?? "") | \(layers.joined(separator: ", ")) | \(accuracyText(cell)) | \(cell.first.published.map(percentText) ?? "") | \(delta(cell.done, cell.first.published)) | \(timeText(cell.done)) |")
        }
        md += ["", "## Table 2: optimizers and learning rates", "",
               quick ? "Quick run: 1 epoch." : StudyPlan.table2Description + ".", "",
               "| optimizer | " + StudyPlan.learningRates.map { "lr \($0)" }.joined(separator: " | ") + " |",
               "|---|" + StudyPlan.learningRates.map { _ in "---:" }.joined(separator: "|") + "|"]
        let table2 = cells(2)
        for optimizer in StudyPlan.optimizers {
            let row = StudyPlan.learningRates.map { lr -> String in
                guard let cell = table2.first(where: { $0.first.optimizer == optimizer && $0.first.learningRate == lr }) else { return "" }
                return accuracyText(cell) + (cell.first.published.map { " (report \(percentText($0)))" } ?? "")
            }
            md.append("| \(optimizer.rawValue) | " + row.joined(separator: " | ") + " |")
        }
        md += ["", "## Table 3: convolutional networks", "",
               "| budget | parameters | blocks | test accuracy | report | Δ (points) | training time |",
               "|---:|---:|---|---:|---:|---:|---:|"]
        for cell in cells(3) {
            let json = cell.done.first
            let convs = (json?["layers"]?.arrayValue ?? []).compactMap(\.stringValue).filter { $0.hasPrefix("Conv2d") }
            let widths = convs.compactMap { $0.split(separator: "→").last?.split(separator: ",").first?.trimmingPrefix(" ") }
            md.append("| \(cell.first.budget / 1000)K | \(json.map { String(params($0)) } ?? "") | \(widths.joined(separator: "-")) | \(accuracyText(cell)) | \(cell.first.published.map(percentText) ?? "") | \(delta(cell.done, cell.first.published)) | \(timeText(cell.done)) |")
        }
        let failures = results.filter { failed($0.json) }
        if !failures.isEmpty {
            md += ["", "## Failed runs", ""]
            md += failures.map { "- `\($0.run.id)`: \($0.json["error"]?.stringValue ?? "no message")" }
            md += ["", "A study run again retries them."]
        }
        if !pendingIDs.isEmpty {
            md += ["", "## Pending runs", "",
                   "\(pendingIDs.count) run(s) of the plan have no result in this directory yet (other shards, `--only`, "
                       + "or a study still running): " + pendingIDs.map { "`\($0)`" }.joined(separator: ", ") + "."]
        }
        let resumed = results.count - ranRuns
        md += ["", "## Plots", "",
               "![Test accuracy against trainable parameters](accuracy_vs_params.png)", "",
               "![Learning curves](learning_curves.png)", "",
               "![Confusion matrix of the best model](confusion_best.png)", "",
               resumed <= 0
                   ? "Study wall time: \(fixed(wallSeconds, 1)) s (\(results.count) runs)."
                   : ranRuns == 0
                       ? "All \(results.count) runs were recorded before this report was written; their training times are in the tables."
                       : "Wall time of the last invocation: \(fixed(wallSeconds, 1)) s for \(ranRuns) runs; "
                           + "\(resumed) were recorded before it.", ""]
        return md.joined(separator: "\n")
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}

extension Substring {
    func trimmingPrefix(_ prefix: Character) -> Substring {
        var s = self
        while s.first == prefix { s = s.dropFirst() }
        return s
    }
}

/// The CPU's model name from /proc/cpuinfo ("unknown" where it has none).
func cpuModel() -> String {
    guard let bytes = try? readFile("/proc/cpuinfo", limit: 1 << 22) else { return "unknown" }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("model name") {
        if let colon = line.firstIndex(of: ":") {
            return String(line[line.index(after: colon)...].trimmingPrefix(" "))
        }
    }
    return "unknown"
}
