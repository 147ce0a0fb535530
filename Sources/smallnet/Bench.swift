// `smallnet bench`: training and inference throughput of the budget-sized models.
import ArgumentParser
import SmallNet

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training and inference images/s of the FCNs at 50K, 100K and 200K parameters.")

    @Option(help: "Threads for the kernels (default: all processors).")
    var threads: Int?
    @Option(help: "Parameter budgets, comma-separated.")
    var budgets: String = "50000,100000,200000"
    @Option(name: .customLong("batch-sizes"), help: "Batch sizes, comma-separated.")
    var batchSizes: String = "64,256"
    @Option(help: "Seconds to measure each figure (after a warm-up).")
    var seconds: Double = 1.5
    @Option(help: "Also write the figures and the models' layers as JSON to this file.")
    var json: String?

    func run() throws {
        let budgetList = try integers(budgets, "--budgets")
        let batchList = try integers(batchSizes, "--batch-sizes")
        let threadCount = threads ?? ThreadPool.availableProcessors
        guard seconds > 0 && seconds <= 60 else { throw ValidationError("--seconds must be in (0, 60]") }
        reportingErrors {
            print("smallnet \(SmallNetVersion.string) bench, \(threadCount) threads, optimizer adamw, synthetic 28×28 data")
            print("model        params  batch   train img/s   infer img/s")
            var rows: [JSON] = []
            for budget in budgetList {
                var recipe = Recipe.defaults(for: .fcn)
                recipe.parameterBudget = budget
                recipe.training.threads = threadCount
                for batch in batchList {
                    let figures = try measure(recipe: recipe, batchSize: batch)
                    print("\(pad("fcn-\(budget / 1000)k", 11)) \(pad(String(figures.params), 7)) \(pad(String(batch), 6)) \(pad(String(Int(figures.train)), 13)) \(Int(figures.infer))")
                    rows.append(.object([
                        ("arch", .string("fcn")), ("budget", .number(budget)), ("params", .number(figures.params)),
                        ("batch_size", .number(batch)), ("train_images_per_second", .number(figures.train)),
                        ("infer_images_per_second", .number(figures.infer)),
                        ("layers", .array(figures.layers.map { .string($0) })),
                        ("config", recipe.json),
                    ]))
                }
            }
            if let json {
                try writeTextFile(json, JSON.object([("threads", .number(threadCount)), ("results", .array(rows))]).serialized(indent: 2) + "\n")
            }
        }
    }

    func integers(_ text: String, _ name: String) throws -> [Int] {
        let values = text.split(separator: ",").compactMap { Int($0) }
        guard !values.isEmpty, values.count == text.split(separator: ",").count, values.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("\(name) must be positive integers separated by commas, got '\(text)'")
        }
        return values
    }

    /// Images/s of the full training step (batch assembly, forward, loss, backward, AdamW) and of
    /// eval-mode inference, each measured for `seconds` after a warm-up.
    func measure(recipe: Recipe, batchSize: Int) throws -> (params: Int, train: Double, infer: Double, layers: [String]) {
        let model = try recipe.buildModel()
        let optimizer = try recipe.buildOptimizer(for: model)
        let samples = Swift.max(4096, 16 * batchSize)
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
        // Training: whole epochs over the synthetic set until the time is up.
        var trained = 0
        var start = 0.0
        var warm = false
        while true {
            try Trainer.fit(model: model, optimizer: optimizer, train: data, config: config)
            if !warm { warm = true; start = monotonicSeconds(); continue }
            trained += samples
            if monotonicSeconds() - start >= seconds { break }
        }
        let train = Double(trained) / (monotonicSeconds() - start)
        // Inference in eval mode, batch by batch.
        let pool = recipe.training.threads > 1 ? ThreadPool(threads: recipe.training.threads) : nil
        _ = try Trainer.predict(model: model, data: data, batchSize: batchSize, pool: pool)
        var inferred = 0
        start = monotonicSeconds()
        while monotonicSeconds() - start < seconds {
            _ = try Trainer.predict(model: model, data: data, batchSize: batchSize, pool: pool)
            inferred += samples
        }
        let infer = Double(inferred) / (monotonicSeconds() - start)
        return (model.parameterCount, train, infer, model.layerSummaries.map(\.summary))
    }
}
