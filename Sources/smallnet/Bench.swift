// `smallnet bench`: training and inference throughput of the budget-sized models, and GFLOP/s.
import ArgumentParser
import SmallNet

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training and inference images/s of the FCNs (50K/100K/200K) and CNNs (10K/20K/50K/100K).")

    @Option(help: "Threads for the kernels (default: all processors).")
    var threads: Int?
    @Option(help: "Models: fcn, cnn or all.")
    var arch: String = "all"
    @Option(help: "Parameter budgets, comma-separated (default: 50000,100000,200000 for FCNs; 10000,20000,50000,100000 for CNNs).")
    var budgets: String?
    @Option(name: .customLong("batch-sizes"), help: "Batch sizes, comma-separated.")
    var batchSizes: String = "64,256"
    @Option(help: "Seconds to measure each figure (after a warm-up).")
    var seconds: Double = 1.5
    @Option(help: "Also write the figures and the models' layers as JSON to this file.")
    var json: String?
    @Option(help: "Time matrix products instead of models: shapes MxNxK, comma-separated (e.g. 62x392x270), each as the best and the median GFLOP/s and their share of the FMA limit.")
    var gemm: String?

    func run() throws {
        let architectures: [Architecture]
        switch arch {
        case "all": architectures = [.fcn, .cnn]
        case "fcn": architectures = [.fcn]
        case "cnn": architectures = [.cnn]
        default: throw ValidationError("--arch must be fcn, cnn or all, got '\(arch)'")
        }
        let explicitBudgets = try budgets.map { try integers($0, "--budgets") }
        let batchList = try integers(batchSizes, "--batch-sizes")
        let threadCount = threads ?? ThreadPool.availableProcessors
        guard threadCount >= 1 && threadCount <= 64 else { throw ValidationError("--threads must be in 1...64") }
        guard seconds > 0 && seconds <= 60 else { throw ValidationError("--seconds must be in (0, 60]") }
        if let gemm { return reportingErrors { try benchGEMM(try gemmShapes(gemm), threads: threadCount) } }
        reportingErrors {
            let pool = threadCount > 1 ? ThreadPool(threads: threadCount) : nil
            let fmaLimit = fmaPeakGFLOPs(pool: pool, seconds: Swift.min(seconds, 0.5))
            let peak = gemmPeakGFLOPs(pool: pool, seconds: Swift.min(seconds, 1))
            print("smallnet \(SmallNetVersion.string) bench, \(threadCount) threads, synthetic 28×28 data, each model's default optimizer")
            print("FMA limit in this run: \(fixed(fmaLimit, 0)) GFLOP/s (register-only FMA loop); GEMM peak: \(fixed(peak, 0)) GFLOP/s (256×256×256)")
            print("model       params  batch   train img/s  train GFLOP/s   infer img/s")
            var rows: [JSON] = []
            for architecture in architectures {
                let budgetList = explicitBudgets ?? (architecture == .fcn ? [50_000, 100_000, 200_000] : [10_000, 20_000, 50_000, 100_000])
                for budget in budgetList {
                    var recipe = Recipe.defaults(for: architecture, budget: budget)
                    recipe.training.threads = threadCount
                    for batch in batchList {
                        let f = try measure(recipe: recipe, batchSize: batch, pool: pool)
                        let gflops = f.train * 3 * Double(f.flops) / 1e9
                        print("\(pad("\(architecture.rawValue)-\(budget / 1000)k", 11)) \(pad(String(f.params), 7)) \(pad(String(batch), 6)) \(pad(fixed(f.train, 0), 12)) \(pad(fixed(gflops, 1), 14)) \(fixed(f.infer, 0))")
                        rows.append(.object([
                            ("arch", .string(architecture.rawValue)), ("budget", .number(budget)), ("params", .number(f.params)),
                            ("batch_size", .number(batch)), ("train_images_per_second", .number(f.train)),
                            ("infer_images_per_second", .number(f.infer)), ("forward_flops", .number(f.flops)),
                            ("train_gflops", .number(gflops)),
                            ("layers", .array(f.layers.map { .string($0) })),
                            ("config", recipe.json),
                        ]))
                    }
                }
            }
            if let json {
                try writeTextFile(json, JSON.object([("threads", .number(threadCount)), ("fma_limit_gflops", .number(fmaLimit)),
                                                     ("gemm_peak_gflops", .number(peak)),
                                                     ("results", .array(rows))]).serialized(indent: 2) + "\n")
            }
        }
    }

    /// Shapes "MxNxK,…", each size in 1...4096.
    func gemmShapes(_ text: String) throws -> [(m: Int, n: Int, k: Int)] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
            let sizes = item.split(separator: "x", omittingEmptySubsequences: false).compactMap { Int($0) }
            guard sizes.count == 3, item.split(separator: "x", omittingEmptySubsequences: false).count == 3,
                  sizes.allSatisfy({ (1...4096).contains($0) }) else {
                throw SmallNetError.invalidArgument("--gemm takes shapes MxNxK separated by commas, each size in 1...4096, got '\(item)'")
            }
            return (sizes[0], sizes[1], sizes[2])
        }
    }

    /// GFLOP/s of each product, beside the FMA limit measured in the same run.
    func benchGEMM(_ shapes: [(m: Int, n: Int, k: Int)], threads: Int) throws {
        let pool = threads > 1 ? ThreadPool(threads: threads) : nil
        let fmaLimit = fmaPeakGFLOPs(pool: pool, seconds: 0.5)
        print("smallnet \(SmallNetVersion.string) bench --gemm, \(threads) thread\(threads == 1 ? "" : "s"); FMA limit in this run: \(fixed(fmaLimit, 0)) GFLOP/s")
        print("shape (M×N×K)      best GFLOP/s  of limit   median GFLOP/s  of limit")
        var rows: [JSON] = []
        for s in shapes {
            let r = gemmGFLOPs(m: s.m, n: s.n, k: s.k, pool: pool, seconds: seconds)
            print("\(pad("\(s.m)×\(s.n)×\(s.k)", 18)) \(pad(fixed(r.best, 1), 13)) \(pad(fixed(100 * r.best / fmaLimit, 1) + " %", 10)) \(pad(fixed(r.median, 1), 15)) \(fixed(100 * r.median / fmaLimit, 1)) %")
            rows.append(.object([("m", .number(s.m)), ("n", .number(s.n)), ("k", .number(s.k)),
                                 ("best_gflops", .number(r.best)), ("median_gflops", .number(r.median))]))
        }
        if let json {
            try writeTextFile(json, JSON.object([("threads", .number(threads)), ("fma_limit_gflops", .number(fmaLimit)),
                                                 ("gemm", .array(rows))]).serialized(indent: 2) + "\n")
        }
    }

    func integers(_ text: String, _ name: String) throws -> [Int] {
        let values = text.split(separator: ",").compactMap { Int($0) }
        guard !values.isEmpty, values.count == text.split(separator: ",").count, values.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("\(name) must be positive integers separated by commas, got '\(text)'")
        }
        return values
    }

    /// Images/s of the full training step (batch assembly, forward, loss, backward, optimizer)
    /// and of eval-mode inference, each measured for `seconds` after a warm-up.
    func measure(recipe: Recipe, batchSize: Int, pool: ThreadPool?) throws
        -> (params: Int, flops: Int, train: Double, infer: Double, layers: [String]) {
        let model = try recipe.buildModel()
        let optimizer = try recipe.buildOptimizer(for: model)
        let samples = Swift.max(1024, 4 * batchSize)
        var g = RandomGenerator(seed: 1)
        let images = (0..<(samples * 784)).map { _ in g.nextUniform() }
        let labels = (0..<samples).map { _ in Int32(g.nextInt(below: 10)) }
        let data = try images.withUnsafeBufferPointer { i in
            try labels.withUnsafeBufferPointer { try Dataset(images: i, labels: $0, sampleShape: [1, 28, 28]) }
        }
        var config = recipe.training
        config.batchSize = batchSize
        config.epochs = 1
        config.augmentation = nil
        var trained = 0
        var start = 0.0
        var warm = false
        while true {
            try Trainer.fit(model: model, optimizer: optimizer, train: data, config: config, pool: pool)
            if !warm { warm = true; start = monotonicSeconds(); continue }
            trained += samples
            if monotonicSeconds() - start >= seconds { break }
        }
        let train = Double(trained) / (monotonicSeconds() - start)
        _ = try Trainer.predict(model: model, data: data, batchSize: batchSize, pool: pool)
        var inferred = 0
        start = monotonicSeconds()
        while monotonicSeconds() - start < seconds {
            _ = try Trainer.predict(model: model, data: data, batchSize: batchSize, pool: pool)
            inferred += samples
        }
        let infer = Double(inferred) / (monotonicSeconds() - start)
        return (model.parameterCount, model.forwardFLOPs, train, infer, model.layerSummaries.map(\.summary))
    }
}
