// The study's write-up: results.json, results.csv and report.md.
import SmallNet

/// The finished runs of a study and how to write them up.
struct StudyReport {
    /// Each run with the JSON that `smallnet train --json` wrote for it.
    let results: [(run: StudyRun, json: JSON)]
    let quick: Bool
    let wallSeconds: Double
    /// Runs found already done when this invocation started (a resumed study).
    let resumedRuns: Int

    func accuracy(_ json: JSON) -> Double { json["test_accuracy"]?.doubleValue ?? .nan }
    func seconds(_ json: JSON) -> Double { json["train_seconds"]?.doubleValue ?? .nan }
    func params(_ json: JSON) -> Int { json["params"]?.intValue ?? 0 }

    func write(to directory: String) throws {
        try writeTextFile("\(directory)/results.json", resultsJSON.serialized(indent: 2) + "\n")
        try writeTextFile("\(directory)/results.csv", csv)
        try writeTextFile("\(directory)/report.md", markdown)
    }

    var resultsJSON: JSON {
        .object([
            ("quick", .bool(quick)),
            ("wall_seconds", .number(wallSeconds)),
            ("resumed_runs", .number(resumedRuns)),
            ("table2_epochs", .number(StudyPlan.table2Epochs)),
            ("table2_settings", .array(StudyPlan.table2Settings.map { .string($0) })),
            ("runs", .array(results.map { run, json in
                .object([
                    ("id", .string(run.id)), ("table", .number(run.table)), ("arch", .string(run.arch.rawValue)),
                    ("budget", .number(run.budget)), ("optimizer", run.optimizer.map { .string($0.rawValue) } ?? .null),
                    ("lr", run.learningRate.map { .number($0) } ?? .null),
                    ("published_accuracy", run.published.map { .number($0) } ?? .null),
                    ("result", json),
                ])
            })),
        ])
    }

    var csv: String {
        var lines = ["table,id,arch,budget,params,optimizer,lr,epochs,test_accuracy,published_accuracy,train_seconds"]
        for (run, json) in results {
            let fields: [String] = [
                String(run.table), run.id, run.arch.rawValue, String(run.budget), String(params(json)),
                json["optimizer"]?.stringValue ?? "", json["lr"]?.doubleValue.map { "\(Float($0))" } ?? "",
                json["epochs"]?.intValue.map(String.init) ?? "", fixed(accuracy(json), 4),
                run.published.map { fixed($0, 4) } ?? "", fixed(seconds(json), 1),
            ]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func percentText(_ x: Double) -> String { fixed(100 * x, 2) + " %" }
    func delta(_ x: Double, _ published: Double?) -> String {
        guard let published else { return "" }
        let d = 100 * (x - published)
        return (d >= 0 ? "+" : "") + fixed(d, 2)
    }

    var markdown: String {
        var md = ["# smallnet parameter-budget study", ""]
        if quick {
            md += ["**Quick run** (`--quick`): one epoch on part of the training data, to check the pipeline; the",
                   "figures are not comparable with the report's.", ""]
        }
        md += ["Test accuracy on the real FashionMNIST test set (10,000 images), next to the reference report's",
               "published figure. Training time is wall-clock seconds of the training loop on this machine.", ""]
        md += ["## Table 1: fully-connected networks", "",
               "| budget | parameters | layers | test accuracy | report | Δ (points) | training time |",
               "|---:|---:|---|---:|---:|---:|---:|"]
        for (run, json) in results where run.table == 1 {
            let layers = (json["layers"]?.arrayValue ?? []).compactMap(\.stringValue).filter { $0.hasPrefix("Linear") }
            md.append("| \(run.budget / 1000)K | \(params(json)) | \(layers.joined(separator: ", ")) | \(percentText(accuracy(json))) | \(run.published.map(percentText) ?? "") | \(delta(accuracy(json), run.published)) | \(fixed(seconds(json), 1)) s |")
        }
        md += ["", "## Table 2: optimizers and learning rates", "",
               quick ? "Quick run: 1 epoch." : StudyPlan.table2Description + ".", "",
               "| optimizer | " + StudyPlan.learningRates.map { "lr \($0)" }.joined(separator: " | ") + " |",
               "|---|" + StudyPlan.learningRates.map { _ in "---:" }.joined(separator: "|") + "|"]
        for optimizer in StudyPlan.optimizers {
            let row = StudyPlan.learningRates.map { lr -> String in
                guard let (run, json) = results.first(where: { $0.run.table == 2 && $0.run.optimizer == optimizer && $0.run.learningRate == lr }) else { return "" }
                let published = run.published.map { " (report \(fixed($0, 4)))" } ?? ""
                return fixed(accuracy(json), 4) + published
            }
            md.append("| \(optimizer.rawValue) | " + row.joined(separator: " | ") + " |")
        }
        md += ["", "## Table 3: convolutional networks", "",
               "| budget | parameters | blocks | test accuracy | report | Δ (points) | training time |",
               "|---:|---:|---|---:|---:|---:|---:|"]
        for (run, json) in results where run.table == 3 {
            let convs = (json["layers"]?.arrayValue ?? []).compactMap(\.stringValue).filter { $0.hasPrefix("Conv2d") }
            let widths = convs.compactMap { $0.split(separator: "→").last?.split(separator: ",").first?.trimmingPrefix(" ") }
            md.append("| \(run.budget / 1000)K | \(params(json)) | \(widths.joined(separator: "-")) | \(percentText(accuracy(json))) | \(run.published.map(percentText) ?? "") | \(delta(accuracy(json), run.published)) | \(fixed(seconds(json), 1)) s |")
        }
        md += ["", "## Plots", "",
               "![Test accuracy against trainable parameters](accuracy_vs_params.png)", "",
               "![Learning curves](learning_curves.png)", "",
               "![Confusion matrix of the best model](confusion_best.png)", "",
               resumedRuns == 0
                   ? "Study wall time: \(fixed(wallSeconds, 1)) s (\(results.count) runs)."
                   : "Wall time of the last invocation: \(fixed(wallSeconds, 1)) s for \(results.count - resumedRuns) runs; "
                       + "\(resumedRuns) were done before it.", ""]
        return md.joined(separator: "\n")
    }
}

extension Substring {
    func trimmingPrefix(_ prefix: Character) -> Substring {
        var s = self
        while s.first == prefix { s = s.dropFirst() }
        return s
    }
}
