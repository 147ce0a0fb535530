// Adagrad, AMSGrad, maximize, gradient clipping, the newer schedules and initialisations.
import XCTest
@testable import SmallNet

final class OptimizerExtrasTests: XCTestCase {
    func scalar(_ value: Float, grad: Float) -> Parameter {
        let p = Parameter(name: "w", shape: [1])
        p.value.data[0] = value
        p.grad.data[0] = grad
        return p
    }

    // MARK: Optimizers

    func testAdagradStepsByHand() throws {
        let p = scalar(1, grad: 0.5)
        let adagrad = try Adagrad(parameters: [p], learningRate: 0.1, learningRateDecay: 0.5, weightDecay: 0.1,
                                  initialAccumulatorValue: 0.2)
        adagrad.step()  // d = 0.6, s = 0.2 + 0.36, clr = 0.1
        let p1 = 1 - 0.1 * 0.6 / ((0.56).squareRoot() + 1e-10)
        XCTAssertEqual(Double(p.value[0]), p1, accuracy: 1e-6)
        adagrad.step()  // d = 0.5 + 0.1·p1, s += d², clr = 0.1 / 1.5
        let d = 0.5 + 0.1 * p1, s = 0.56 + d * d
        XCTAssertEqual(Double(p.value[0]), p1 - 0.1 / 1.5 * d / (s.squareRoot() + 1e-10), accuracy: 1e-6)
        XCTAssertEqual(adagrad.stepCount, 2)
    }

    func testAdagradDefaultsArePyTorchs() throws {
        let a = try Adagrad(parameters: [])
        XCTAssertEqual([a.learningRate, a.learningRateDecay, a.weightDecay, a.initialAccumulatorValue, a.eps],
                       [0.01, 0, 0, 0, 1e-10])
        XCTAssertFalse(a.maximize)
        XCTAssertEqual(a.name, "adagrad")
        XCTAssertFalse(try Adam(parameters: []).amsgrad)
        XCTAssertFalse(try Adam(parameters: []).maximize)
        XCTAssertFalse(try SGD(parameters: []).maximize)
        XCTAssertFalse(try RMSProp(parameters: []).maximize)
        XCTAssertThrowsError(try Adagrad(parameters: [], learningRateDecay: -1))
        XCTAssertThrowsError(try Adagrad(parameters: [], initialAccumulatorValue: .nan))
        XCTAssertThrowsError(try Adagrad(parameters: [], eps: -1))
    }

    func testAMSGradUsesTheLargestSecondMoment() throws {
        let p = scalar(1, grad: 1), q = scalar(1, grad: 1)
        let plain = try Adam(parameters: [p], learningRate: 0.1), ams = try Adam(parameters: [q], learningRate: 0.1, amsgrad: true)
        plain.step(); ams.step()
        XCTAssertEqual(p.value[0], q.value[0], "identical while v only grows")
        p.grad.data[0] = 0.01; q.grad.data[0] = 0.01
        plain.step(); ams.step()
        // v shrinks: AMSGrad keeps the first step's larger v, so its step is smaller.
        let v1 = 0.001, v2 = 0.999 * 0.001 + 0.001 * 0.0001, m = 0.9 * 0.1 + 0.1 * 0.01
        let c1 = 1 - 0.81, c2 = (1 - 0.998001).squareRoot()
        XCTAssertEqual(Double(p.value[0]), 0.9 - 0.1 / c1 * m / (v2.squareRoot() / c2 + 1e-8), accuracy: 1e-6)
        XCTAssertEqual(Double(q.value[0]), 0.9 - 0.1 / c1 * m / (v1.squareRoot() / c2 + 1e-8), accuracy: 1e-6)
    }

    func testMaximizeAscends() throws {
        func after(_ make: ([Parameter]) throws -> Optimizer) throws -> Float {
            let p = scalar(1, grad: 0.5)
            try make([p]).step()
            return p.value[0]
        }
        XCTAssertEqual(try after { try SGD(parameters: $0, learningRate: 0.1, maximize: true) }, 1.05, accuracy: 1e-7)
        XCTAssertEqual(try after { try Adam(parameters: $0, learningRate: 0.1, maximize: true) }, 1.1, accuracy: 1e-6)
        XCTAssertEqual(try after { try RMSProp(parameters: $0, learningRate: 0.01, maximize: true) }, 1.1, accuracy: 1e-6)
        XCTAssertEqual(try after { try Adagrad(parameters: $0, learningRate: 0.1, maximize: true) }, 1.1, accuracy: 1e-6)
    }

    func testAMSGradIsAnAdamSettingInRecipes() throws {
        let p = scalar(1, grad: 1)
        XCTAssertTrue(try (OptimizerKind.adamw.make(parameters: [p], learningRate: 0.1, amsgrad: true) as? Adam)?.amsgrad == true)
        XCTAssertThrowsError(try OptimizerKind.sgd.make(parameters: [p], learningRate: 0.1, amsgrad: true)) { error in
            XCTAssertTrue((error as? SmallNetError)?.message.contains("amsgrad") == true)
        }
        var recipe = Recipe.defaults(for: .fcn)
        let plain = recipe.json.serialized()
        XCTAssertFalse(plain.contains("amsgrad") || plain.contains("clip_grad"), "unchanged when unused: \(plain)")
        recipe.amsgrad = true
        recipe.training.clipGradNorm = 1
        recipe.training.schedule = .warmup(epochs: 2, .oneCycle(.init(pctStart: 0.25)))
        let text = recipe.json.serialized()
        for member in ["\"amsgrad\":true", "\"clip_grad_norm\":1", "\"schedule\":\"one-cycle\"", "\"pct_start\":0.25",
                       "\"warmup_epochs\":2"] {
            XCTAssertTrue(text.contains(member), "\(member) in \(text)")
        }
    }

    // MARK: Clipping

    func testClipGradNormScalesToTheMaximum() throws {
        let a = Parameter(name: "a", shape: [2]), b = Parameter(name: "b", shape: [1])
        a.grad.data[0] = 3; a.grad.data[1] = 0; b.grad.data[0] = 4  // total norm 5
        let total = try clipGradNorm([a, b], maxNorm: 1)
        XCTAssertEqual(total, 5)
        let scale: Float = 1 / (5 + 1e-6)
        XCTAssertEqual(a.grad[0], 3 * scale)
        XCTAssertEqual(b.grad[0], 4 * scale)
        XCTAssertEqual(try clipGradNorm([a, b], maxNorm: 10), 1, accuracy: 1e-6)
        XCTAssertEqual(a.grad[0], 3 * scale, "below the maximum nothing changes")
        XCTAssertThrowsError(try clipGradNorm([a], maxNorm: -1))
    }

    func testClipGradValueClamps() throws {
        let a = Parameter(name: "a", shape: [3])
        a.grad.data[0] = -2; a.grad.data[1] = 0.3; a.grad.data[2] = 5
        try clipGradValue([a], clipValue: 0.5)
        XCTAssertEqual([a.grad[0], a.grad[1], a.grad[2]], [-0.5, 0.3, 0.5])
        XCTAssertThrowsError(try clipGradValue([a], clipValue: .infinity))
    }

    func testClippingInFitBoundsTheUpdate() throws {
        // One SGD step of lr 1 moves the parameters by exactly the clipped gradient.
        let data = try syntheticData(count: 16, seed: 2)
        func weights(clip: Float) throws -> (before: [Float], after: [Float]) {
            var g = RandomGenerator(seed: 3)
            let model = try Sequential(inputShape: [1, 6, 6], layers: [try Linear(36, 3, generator: &g)])
            let before = model.parameters.flatMap { p in (0..<p.value.count).map { p.value[$0] } }
            var config = TrainingConfig()
            config.epochs = 1
            config.batchSize = 16
            config.clipGradNorm = clip
            try Trainer.fit(model: model, optimizer: try SGD(parameters: model.parameters, learningRate: 1),
                            train: data, config: config)
            return (before, model.parameters.flatMap { p in (0..<p.value.count).map { p.value[$0] } })
        }
        let clipped = try weights(clip: 0.01)
        let moved = zip(clipped.before, clipped.after).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
        XCTAssertEqual(moved, 0.01, accuracy: 1e-4)
        let free = try weights(clip: 0)
        let movedFree = zip(free.before, free.after).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
        XCTAssertGreaterThan(movedFree, 0.05)
        var bad = TrainingConfig()
        bad.clipGradValue = -1
        XCTAssertThrowsError(try bad.validate())
    }

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

    // MARK: Schedules

    func testExponentialIsPerEpoch() {
        let s = LearningRateSchedule.exponential(gamma: 0.5)
        XCTAssertEqual(s.learningRate(base: 0.1, step: 9, totalSteps: 100, stepsPerEpoch: 10), 0.1)
        XCTAssertEqual(s.learningRate(base: 0.1, step: 10, totalSteps: 100, stepsPerEpoch: 10), 0.05)
        XCTAssertEqual(s.learningRate(base: 0.1, step: 35, totalSteps: 100, stepsPerEpoch: 10), 0.0125)
    }

    func testOneCycleEndpoints() {
        let s = LearningRateSchedule.oneCycle(.init())
        let total = 100
        func lr(_ step: Int) -> Float { s.learningRate(base: 1, step: step, totalSteps: total, stepsPerEpoch: 10) }
        XCTAssertEqual(lr(0), 1.0 / 25, accuracy: 1e-7)
        XCTAssertEqual(lr(29), 1, accuracy: 1e-6, "the peak at pct_start·total − 1")
        XCTAssertEqual(lr(99), 1.0 / 25 / 1e4, accuracy: 1e-9)
        XCTAssertLessThan(lr(60), lr(40))
        let linear = LearningRateSchedule.oneCycle(.init(cosineAnnealing: false))
        // Rising phase 0...29: linear from 0.04 to 1.
        XCTAssertEqual(linear.learningRate(base: 1, step: 10, totalSteps: total, stepsPerEpoch: 10),
                       Float(0.04 + (1 - 0.04) * 10.0 / 29), accuracy: 1e-6)
    }

    func testWarmupBeforeAnyKind() throws {
        let s = LearningRateSchedule.warmup(epochs: 1, .step(stepSize: 1, gamma: 0.5))
        try s.validate()
        XCTAssertEqual(s.learningRate(base: 1, step: 0, totalSteps: 40, stepsPerEpoch: 10), 0.1)
        XCTAssertEqual(s.learningRate(base: 1, step: 9, totalSteps: 40, stepsPerEpoch: 10), 1)
        XCTAssertEqual(s.learningRate(base: 1, step: 10, totalSteps: 40, stepsPerEpoch: 10), 1, "step epochs count from the warm-up's end")
        XCTAssertEqual(s.learningRate(base: 1, step: 20, totalSteps: 40, stepsPerEpoch: 10), 0.5)
        XCTAssertThrowsError(try LearningRateSchedule.warmup(epochs: 1, .cosine(warmupEpochs: 1, minimum: 0)).validate())
        XCTAssertThrowsError(try LearningRateSchedule.warmup(epochs: -1, .constant).validate())
        // Huge warm-ups stay in Double (no trap): the rate is a vanishing fraction of the base.
        let tiny = LearningRateSchedule.warmup(epochs: 1e300, .constant)
            .learningRate(base: 1, step: 5, totalSteps: 10, stepsPerEpoch: 10)
        XCTAssertTrue(tiny.isFinite && tiny >= 0 && tiny < 1e-30, "\(tiny)")
    }

    func testExistingSchedulesUnchanged() {
        // The values today's code gives (pinned before the new kinds were added).
        let cosine = LearningRateSchedule.cosine(warmupEpochs: 1, minimum: 0)
        XCTAssertEqual(cosine.learningRate(base: 0.002, step: 0, totalSteps: 9380, stepsPerEpoch: 938), 0.002 / 938)
        let step = LearningRateSchedule.step(stepSize: 2, gamma: 0.1)
        XCTAssertEqual(step.learningRate(base: 0.05, step: 45, totalSteps: 100, stepsPerEpoch: 10), 0.05 * Float(_pow(Double(Float(0.1)), 2)))
    }

    func testPlateauTrackerFollowsPyTorch() {
        var t = PlateauTracker(.init(factor: 0.5, patience: 2, threshold: 0.1, cooldown: 1, minimum: 0.1), rate: 1)
        t.observe(1)        // best 1
        t.observe(0.95)     // not 10 % better: bad 1
        t.observe(0.95)     // bad 2
        XCTAssertEqual(t.rate, 1)
        t.observe(0.95)     // bad 3 > patience: 0.5, cooldown 1
        XCTAssertEqual(t.rate, 0.5)
        t.observe(0.95)     // in cooldown: bad reset
        t.observe(0.95); t.observe(0.95)
        XCTAssertEqual(t.rate, 0.5)
        t.observe(0.95)
        XCTAssertEqual(t.rate, 0.25)
        for _ in 0..<20 { t.observe(0.95) }
        XCTAssertEqual(t.rate, 0.1, accuracy: 1e-12, "never below min_lr")
    }

    func testPlateauNeedsValidationData() throws {
        let data = try syntheticData(count: 32, seed: 4)
        var g = RandomGenerator(seed: 3)
        let model = try Sequential(inputShape: [1, 6, 6], layers: [try Linear(36, 3, generator: &g)])
        var config = TrainingConfig()
        config.epochs = 3
        config.schedule = .reduceOnPlateau(.init(patience: 0))
        let sgd = try SGD(parameters: model.parameters, learningRate: 0.1)
        XCTAssertThrowsError(try Trainer.fit(model: model, optimizer: sgd, train: data, config: config)) { error in
            XCTAssertTrue((error as? SmallNetError)?.message.contains("validation") == true)
        }
        // A threshold of 0.99 lets only the first loss count as an improvement: with patience 0
        // the rate falls after the second epoch's loss, and after every one since.
        config.schedule = .reduceOnPlateau(.init(patience: 0, threshold: 0.99))
        let history = try Trainer.fit(model: model, optimizer: sgd, train: data, evaluation: data, config: config)
        XCTAssertEqual(history.map(\.learningRate)[0], 0.1)
        XCTAssertEqual(history.map(\.learningRate)[1], 0.1)
        XCTAssertEqual(history.map(\.learningRate)[2], 0.01, accuracy: 1e-9)
        XCTAssertEqual(sgd.learningRate, 0.1, "the base rate is restored after fit")
    }

    // MARK: Initialisation

    func testGainsAreCalculateGains() {
        XCTAssertEqual(Nonlinearity.linear.gain, 1)
        XCTAssertEqual(Nonlinearity.sigmoid.gain, 1)
        XCTAssertEqual(Nonlinearity.tanh.gain, 5.0 / 3)
        XCTAssertEqual(Nonlinearity.relu.gain, 2.0.squareRoot())
        XCTAssertEqual(Nonlinearity.leakyReLU(negativeSlope: 0.2).gain, (2 / 1.04).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(Nonlinearity.leakyReLU(negativeSlope: 0).gain, 2.0.squareRoot())
    }

    func moments(_ t: Tensor) -> (mean: Double, std: Double, maxAbs: Double) {
        let n = Double(t.count)
        let values = (0..<t.count).map { Double(t[$0]) }
        let mean = values.reduce(0, +) / n
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n
        return (mean, variance.squareRoot(), values.map(abs).max() ?? 0)
    }

    func testDistributionsHaveTheirMoments() throws {
        var g = RandomGenerator(seed: 11)
        let w = try Tensor(shape: [200, 50, 3, 3])  // fan_in 450, fan_out 1800
        Initializers.kaimingNormal(w, mode: .fanOut, nonlinearity: .leakyReLU(negativeSlope: 0.1), generator: &g)
        var m = moments(w)
        XCTAssertEqual(m.std, (2 / 1.01).squareRoot() / 1800.0.squareRoot(), accuracy: 0.01 * m.std)
        XCTAssertEqual(m.mean, 0, accuracy: 0.01 * m.std)
        Initializers.kaimingUniform(w, nonlinearity: .tanh, generator: &g)
        m = moments(w)
        let bound = 5.0 / 3 * (3 / 450.0).squareRoot()
        XCTAssertLessThanOrEqual(m.maxAbs, bound)
        XCTAssertEqual(m.std, bound / 3.0.squareRoot(), accuracy: 0.01 * m.std)
        Initializers.xavierUniform(w, gain: 2, generator: &g)
        m = moments(w)
        let xb = 2 * (6 / 2250.0).squareRoot()
        XCTAssertLessThanOrEqual(m.maxAbs, xb)
        XCTAssertEqual(m.std, xb / 3.0.squareRoot(), accuracy: 0.01 * m.std)
        Initializers.xavierNormal(w, generator: &g)
        m = moments(w)
        XCTAssertEqual(m.std, (2 / 2250.0).squareRoot(), accuracy: 0.01 * m.std)
    }

    func testOrthogonalIsOrthonormal() throws {
        for shape in [[8, 20], [20, 8], [6, 2, 2, 2], [5, 5]] {
            var g = RandomGenerator(seed: 5)
            let w = try Tensor(shape: shape)
            Initializers.orthogonal(w, gain: 1.5, generator: &g)
            let rows = shape[0], cols = w.count / rows
            // W Wᵀ = gain² I for wide, Wᵀ W = gain² I for tall.
            let (n, len, stride, step) = rows <= cols ? (rows, cols, cols, 1) : (cols, rows, 1, cols)
            for i in 0..<n {
                for j in 0..<n {
                    var dot = 0.0
                    for k in 0..<len { dot += Double(w[i * stride + k * step]) * Double(w[j * stride + k * step]) }
                    XCTAssertEqual(dot, i == j ? 2.25 : 0, accuracy: 1e-5, "\(shape) (\(i), \(j))")
                }
            }
        }
    }

    func testNamedSchemesInLayers() throws {
        for scheme in WeightInit.allCases {
            var g = RandomGenerator(seed: 1)
            let layer = try Linear(64, 32, initialization: scheme, generator: &g)
            let m = moments(layer.weight.value)
            XCTAssertGreaterThan(m.std, 0, "\(scheme)")
            if scheme != .pytorchDefault { XCTAssertEqual(layer.bias!.value[0], 0, "\(scheme)") }
        }
        // The existing schemes draw exactly as before (same seed, same numbers).
        var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9)
        let layer = try Linear(10, 4, initialization: .kaimingNormal, generator: &a)
        XCTAssertEqual(layer.weight.value[0], Float((2.0 / 10).squareRoot()) * b.nextNormal())
    }
}
