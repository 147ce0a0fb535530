// `smallnet profile`: where a model's training step spends its time, layer by layer, against
// this machine's FMA limit.
import ArgumentParser
import SmallNet

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time each layer's forward and backward pass in a training step, with GFLOP/s and the share of the step.",
        discussion: """
            The model is the budget-sized FCN or CNN (--arch, --budget) or a saved checkpoint; it \
            trains on random images with its recipe's optimizer (AdamW for a checkpoint), so the \
            figures are those of `smallnet train` without data loading. With --inference, each \
            layer's forward pass in eval mode instead (what prediction runs per batch). The FMA \
            limit is measured in the same run: a register-only loop of fused multiply-adds on \
            every thread.
            """)

    @Option(help: "fcn or cnn (ignored with --checkpoint).")
    var arch: String = "cnn"
    @Option(help: "Parameter budget of the model (ignored with --checkpoint).")
    var budget: Int = 100_000
    @Option(help: "Profile this saved model instead.")
    var checkpoint: String?
    @Option(name: .customLong("batch-size"), help: "Images per step.")
    var batchSize: Int = 64
    @Option(help: "Threads for the kernels (default: all processors).")
    var threads: Int?
    @Option(help: "Seconds to measure the steps (after a warm-up).")
    var seconds: Double = 2
    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?
    @Flag(help: "Run every layer by itself (no fused BatchNorm2d → ReLU → MaxPool2d pass), as a reference.")
    var unfused = false
    @Flag(help: "Profile inference (eval-mode forward passes) instead of a training step.")
    var inference = false

    func run() throws {
        reportingErrors {
            guard seconds > 0 && seconds <= 600 else { throw SmallNetError.invalidArgument("--seconds must be in (0, 600], got \(seconds)") }
            let (model, name, recipe) = try chosenModel()
            model.fusesLayers = !unfused
            let pool = try threadPool(threads)
            let threadCount = pool?.threadCount ?? 1
            let fmaLimit = fmaPeakGFLOPs(pool: pool, seconds: 0.5)
            let gemmPeak = gemmPeakGFLOPs(pool: pool, seconds: 0.5)
            let profile = inference
                ? try Profiler.profileInference(model: model, batchSize: batchSize, pool: pool, seconds: seconds)
                : try Profiler.profile(model: model, batchSize: batchSize, pool: pool, seconds: seconds) {
                    try recipe.buildOptimizer(for: $0)
                }
            let what = inference ? "inference passes" : "steps"
            print("smallnet \(SmallNetVersion.string) profile: \(name), \(model.parameterCount) parameters, batch \(batchSize), \(threadCount) thread\(threadCount == 1 ? "" : "s"), \(profile.rounds) \(what)\(unfused ? ", unfused" : "")")
            print("FMA limit \(fixed(fmaLimit, 0)) GFLOP/s (register-only FMA loop); GEMM peak \(fixed(gemmPeak, 0)) GFLOP/s (256×256×256)")
            print(printedTable(profile, fmaLimit: fmaLimit))
            let normalization = normalizationShare(profile, model: model)
            if let share = normalization {
                print("BatchNorm, ReLU and max-pooling: \(fixed(100 * share, 1)) % of the \(inference ? "pass" : "step") (their rows and parts)")
            }
            if let json {
                try writeTextFile(json, profileJSON(profile, name: name, fmaLimit: fmaLimit, gemmPeak: gemmPeak,
                                                   normalizationShare: normalization).serialized(indent: 2) + "\n")
            }
        }
    }

    /// The model to profile, its name, and the recipe whose optimizer it trains with.
    func chosenModel() throws -> (Sequential, String, Recipe) {
        if let checkpoint {
            let model = try loadCheckpoint(checkpoint)
            let architecture: Architecture = model.layers.contains { $0 is Conv2d } ? .cnn : .fcn
            return (model, checkpoint, Recipe.defaults(for: architecture, budget: Swift.max(model.parameterCount, 1)))
        }
        guard let architecture = Architecture(rawValue: arch) else {
            throw SmallNetError.invalidArgument("--arch must be fcn or cnn, got '\(arch)'")
        }
        guard budget >= 1000 && budget <= 100_000_000 else {
            throw SmallNetError.invalidArgument("--budget must be in 1000...100000000, got \(budget)")
        }
        let recipe = Recipe.defaults(for: architecture, budget: budget)
        return (try recipe.buildModel(), "\(arch)-\(budget / 1000)k", recipe)
    }

    func printedTable(_ p: StepProfile, fmaLimit: Double) -> String {
        let step = p.stepSeconds
        func gflops(_ flops: Int, _ seconds: Double) -> String { flops == 0 || seconds <= 0 ? "" : fixed(Double(flops) / seconds / 1e9, 1) }
        func share(_ seconds: Double) -> String { fixed(100 * seconds / step, 1) + " %" }
        // Each step, then its parts (`LayerProfile.parts`) indented under it.
        let rows = p.layers.flatMap { l in [(l, "\(l.index)", l.summary)] + l.parts.map { ($0, "", "  · " + $0.summary) } }
        let width = rows.reduce(40) { Swift.max($0, $1.2.count) }  // the layer column
        guard p.training else {
            var lines = [" #  \(pad("layer", width)) forward µs   share  GFLOP/s"]
            for (l, index, summary) in rows {
                lines.append("\(pad(index, 3)) \(pad(summary, width)) \(pad(fixed(l.forwardSeconds * 1e6, 1), 12)) \(pad(share(l.forwardSeconds), 7)) \(gflops(l.forwardFLOPs, l.forwardSeconds))")
            }
            lines.append("pass \(fixed(step * 1e3, 3)) ms = \(fixed(p.imagesPerSecond, 0)) images/s, \(fixed(p.gflops, 1)) GFLOP/s = \(fixed(100 * p.gflops / fmaLimit, 1)) % of the FMA limit")
            return lines.joined(separator: "\n")
        }
        var lines = [" #  \(pad("layer", width)) forward µs  backward µs   share  fwd GFLOP/s  bwd GFLOP/s"]
        for (l, index, summary) in rows {
            lines.append("\(pad(index, 3)) \(pad(summary, width)) \(pad(fixed(l.forwardSeconds * 1e6, 1), 11)) \(pad(fixed(l.backwardSeconds * 1e6, 1), 12)) \(pad(share(l.forwardSeconds + l.backwardSeconds), 7)) \(pad(gflops(l.forwardFLOPs, l.forwardSeconds), 12)) \(gflops(l.backwardFLOPs, l.backwardSeconds))")
        }
        lines.append("    \(pad("loss (softmax cross-entropy)", width)) \(pad(fixed(p.lossSeconds * 1e6, 1), 24)) \(share(p.lossSeconds))")
        lines.append("    \(pad("optimizer (zero grad + update)", width)) \(pad(fixed(p.optimizerSeconds * 1e6, 1), 24)) \(share(p.optimizerSeconds))")
        lines.append("step \(fixed(step * 1e3, 3)) ms = \(fixed(p.imagesPerSecond, 0)) images/s, \(fixed(p.gflops, 1)) GFLOP/s = \(fixed(100 * p.gflops / fmaLimit, 1)) % of the FMA limit")
        return lines.joined(separator: "\n")
    }

    /// The share of the step (or pass) of the rows and parts that run only BatchNorm, ReLU and
    /// MaxPool2d layers, or nil when some such layer shares a row with other layers that is not
    /// taken apart (an FCN's Linear → BatchNorm1d → ReLU) or the model has none.
    func normalizationShare(_ p: StepProfile, model: Sequential) -> Double? {
        func isNormalization(_ l: LayerProfile) -> Bool {
            model.layers[l.index..<(l.index + l.layerCount)].allSatisfy { $0 is BatchNorm || $0 is ReLU || $0 is MaxPool2d }
        }
        var seconds = 0.0, counted = 0
        for row in p.layers {
            for l in row.parts.isEmpty ? [row] : row.parts where isNormalization(l) {
                seconds += l.forwardSeconds + l.backwardSeconds
                counted += l.layerCount
            }
        }
        let all = model.layers.filter { $0 is BatchNorm || $0 is ReLU || $0 is MaxPool2d }.count
        guard all > 0, counted == all else { return nil }
        return seconds / p.stepSeconds
    }

    func profileJSON(_ p: StepProfile, name: String, fmaLimit: Double, gemmPeak: Double, normalizationShare: Double?) -> JSON {
        var fields: [(String, JSON)] = [
            ("model", .string(name)), ("mode", .string(p.training ? "training" : "inference")),
            ("batch_size", .number(p.batchSize)), ("threads", .number(p.threads)),
            ("steps", .number(p.rounds)), ("fma_limit_gflops", .number(fmaLimit)), ("gemm_peak_gflops", .number(gemmPeak)),
            ("step_seconds", .number(p.stepSeconds)), ("images_per_second", .number(p.imagesPerSecond)),
            ("step_gflops", .number(p.gflops)), ("fraction_of_fma_limit", .number(p.gflops / fmaLimit)),
            ("loss_seconds", .number(p.lossSeconds)), ("optimizer_seconds", .number(p.optimizerSeconds)),
            ("layers", .array(p.layers.map { l in
                var fields = layerFields(l, p)
                if !l.parts.isEmpty { fields.append(("parts", .array(l.parts.map { .object(layerFields($0, p)) }))) }
                return .object(fields)
            })),
        ]
        if let normalizationShare { fields.append(("batchnorm_relu_maxpool_share", .number(normalizationShare))) }
        return .object(fields)
    }

    func layerFields(_ l: LayerProfile, _ p: StepProfile) -> [(String, JSON)] {
        [("index", .number(l.index)), ("layer_count", .number(l.layerCount)), ("layer", .string(l.summary)),
         ("forward_seconds", .number(l.forwardSeconds)), ("backward_seconds", .number(l.backwardSeconds)),
         ("forward_flops", .number(l.forwardFLOPs)), ("backward_flops", .number(l.backwardFLOPs)),
         ("share", .number((l.forwardSeconds + l.backwardSeconds) / p.stepSeconds))]
    }
}
