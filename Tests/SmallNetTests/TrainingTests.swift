// Training: budgets, determinism, divergence, evaluation, and a smoke run on the real FashionMNIST.
import XCTest
@testable import SmallNet

final class TrainingTests: XCTestCase {
    /// A small synthetic 3-class problem: the class is the brightest of three image regions.
    func syntheticData(count: Int, seed: UInt64) throws -> Dataset {
        var g = RandomGenerator(seed: seed)
        var images = [Float](), labels = [Int32]()
        for _ in 0..<count {
            let y = g.nextInt(below: 3)
            for pixel in 0..<36 { images.append(0.3 * g.nextNormal() + (pixel / 12 == y ? 1 : 0)) }
            labels.append(Int32(y))
        }
        return try images.withUnsafeBufferPointer { i in
            try labels.withUnsafeBufferPointer { try Dataset(images: i, labels: $0, sampleShape: [1, 6, 6], classCount: 3) }
        }
    }

    func testBudgetsLandWithinTwoPercentAndCountIsExact() throws {
        for budget in [50_000, 100_000, 200_000, 20_000] {
            for batchNorm in [false, true] {
                let hidden = try FCN.hiddenWidths(budget: budget, batchNorm: batchNorm)
                var g = RandomGenerator(seed: 0)
                let model = try FCN.build(hidden: hidden, batchNorm: batchNorm, generator: &g)
                XCTAssertEqual(model.parameterCount, FCN.parameterCount(inputSize: 784, classes: 10, hidden: hidden, batchNorm: batchNorm))
                XCTAssertEqual(Double(model.parameterCount), Double(budget), accuracy: 0.02 * Double(budget), "\(budget): \(hidden)")
            }
        }
        XCTAssertThrowsError(try FCN.hiddenWidths(budget: 100))
        XCTAssertThrowsError(try FCN.hiddenWidths(budget: -5))
    }

    func testSameSeedSameWeightsWhateverTheThreadCount() throws {
        let data = try syntheticData(count: 300, seed: 1)
        func run(threads: Int) throws -> [Float] {
            var recipe = Recipe.defaults(for: .fcn)
            recipe.hidden = [40, 20]
            recipe.training.epochs = 2
            recipe.training.batchSize = 32
            recipe.training.threads = threads
            recipe.training.seed = 11
            recipe.training.augmentation = try Augmentation(cropPadding: 1, horizontalFlip: true)
            let model = try recipe.buildModel(inputShape: [1, 6, 6], classes: 3)
            try Trainer.fit(model: model, optimizer: try recipe.buildOptimizer(for: model), train: data, config: recipe.training,
                            pool: threads > 1 ? ThreadPool(threads: threads) : nil)
            return model.parameters.flatMap { $0.value.values } + model.namedBuffers.flatMap { $0.tensor.values }
        }
        let a = try run(threads: 1), b = try run(threads: 1), c = try run(threads: 2)
        XCTAssertEqual(a, b, "same seed, same weights")
        XCTAssertEqual(a, c, "the thread count does not change the numbers")
    }

    func testLossFallsAndProgressCanStop() throws {
        let data = try syntheticData(count: 400, seed: 2)
        var g = RandomGenerator(seed: 3)
        let model = try FCN.build(inputShape: [1, 6, 6], classes: 3, hidden: [16], generator: &g)
        let optimizer = try SGD(parameters: model.parameters, learningRate: 0.05, momentum: 0.9)
        var config = TrainingConfig()
        config.epochs = 5
        config.batchSize = 20
        let history = try Trainer.fit(model: model, optimizer: optimizer, train: data, evaluation: data, config: config)
        XCTAssertEqual(history.count, 5)
        XCTAssertLessThan(history.last!.trainLoss, history.first!.trainLoss * 0.5)
        XCTAssertGreaterThan(history.last!.evalAccuracy!, 0.95)
        var calls = 0
        let stopped = try Trainer.fit(model: model, optimizer: optimizer, train: data, config: config, progress: { _ in
            calls += 1
            return calls < 3
        })
        XCTAssertEqual(calls, 3)
        XCTAssertEqual(stopped.count, 0, "the epoch stopped in is not recorded")
        var epochs = 0
        let stoppedAtEpoch = try Trainer.fit(model: model, optimizer: optimizer, train: data, config: config, onEpoch: { _ in
            epochs += 1
            return epochs < 2
        })
        XCTAssertEqual(stoppedAtEpoch.count, 2, "onEpoch returning false stops after that epoch")
        let evaluation = try Trainer.evaluate(model: model, data: data)
        XCTAssertEqual(evaluation.confusion.flatMap { $0 }.reduce(0, +), data.count)
        XCTAssertEqual(evaluation.perClassAccuracy.count, 3)
        let probabilities = try Trainer.predict(model: model, data: data)
        XCTAssertEqual(probabilities.count, data.count * 3)
        XCTAssertEqual(probabilities[0] + probabilities[1] + probabilities[2], 1, accuracy: 1e-5)
    }

    func testDivergenceIsAnError() throws {
        let data = try syntheticData(count: 100, seed: 2)
        var g = RandomGenerator(seed: 3)
        let model = try FCN.build(inputShape: [1, 6, 6], classes: 3, hidden: [16], generator: &g)
        let optimizer = try SGD(parameters: model.parameters, learningRate: 1e30)
        var config = TrainingConfig()
        config.epochs = 3
        XCTAssertThrowsError(try Trainer.fit(model: model, optimizer: optimizer, train: data, config: config)) { error in
            guard case SmallNetError.diverged = error else { return XCTFail("\(error)") }
        }
    }

    func testALossFarAboveItsStartIsDivergenceEvenWhenFinite() throws {
        // BatchNorm keeps activations bounded, so at lr 1e6 the loss grows huge but stays finite.
        let data = try syntheticData(count: 200, seed: 2)
        var recipe = Recipe.defaults(for: .fcn)
        recipe.hidden = [16]
        let model = try recipe.buildModel(inputShape: [1, 6, 6], classes: 3)
        let optimizer = try SGD(parameters: model.parameters, learningRate: 1e6, momentum: 0.9)
        var config = TrainingConfig()
        config.epochs = 5
        var losses: [Float] = []
        XCTAssertThrowsError(try Trainer.fit(model: model, optimizer: optimizer, train: data, config: config,
                                             progress: { losses.append($0.loss); return true })) { error in
            guard case SmallNetError.diverged(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("rose to") || message.contains("became"), message)
        }
        XCTAssertLessThan(losses.count, 5 * 4, "stopped within the run")
        XCTAssertLessThanOrEqual(losses.max() ?? 0, Trainer.divergenceFactor * Swift.max(losses[0], _log(Float(3))))
    }

    func testIncompatibleDataAndBadConfigAreErrors() throws {
        let data = try syntheticData(count: 10, seed: 2)
        var g = RandomGenerator(seed: 3)
        let model = try FCN.build(hidden: [8], generator: &g)
        let optimizer = try SGD(parameters: model.parameters)
        XCTAssertThrowsError(try Trainer.fit(model: model, optimizer: optimizer, train: data, config: TrainingConfig()))
        var config = TrainingConfig()
        config.batchSize = 0
        XCTAssertThrowsError(try config.validate())
        config = TrainingConfig()
        config.threads = 0
        XCTAssertThrowsError(try config.validate())
    }

    func testJSONWriting() {
        let value = JSON.object([("a", .number(1)), ("b", .array([.number(0.5), .null])), ("c", .string("x\"\n"))])
        XCTAssertEqual(value.serialized(), #"{"a":1,"b":[0.5,null],"c":"x\"\n"}"#)
        XCTAssertEqual(JSON.number(Double.nan).serialized(), "null")
    }

    /// Short training on the real data: a broken model cannot clear the floor.
    /// Requires the FashionMNIST files (skipped without them unless SMALLNET_REQUIRE_DATA=1).
    func testShortTrainingOnRealFashionMNIST() throws {
        let directory = FashionMNIST.resolveDirectory(nil)
        let required = getenv("SMALLNET_REQUIRE_DATA").map { String(cString: $0) == "1" } ?? false
        let train: Dataset, test: Dataset
        do {
            train = try FashionMNIST.load(directory: directory, train: true).prefix(20_000)
            test = try FashionMNIST.load(directory: directory, train: false)
        } catch SmallNetError.notFound(let message) where !required {
            throw XCTSkip(message)
        }
        var recipe = Recipe.defaults(for: .fcn)
        recipe.parameterBudget = 100_000
        recipe.training.epochs = 3
        recipe.training.threads = 2
        let model = try recipe.buildModel()
        try Trainer.fit(model: model, optimizer: try recipe.buildOptimizer(for: model), train: train, config: recipe.training)
        let result = try Trainer.evaluate(model: model, data: test)
        XCTAssertGreaterThan(result.accuracy, 0.82, "100K FCN, 3 epochs on 20,000 images")
    }
}
