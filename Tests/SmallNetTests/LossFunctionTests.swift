// Losses of `Loss`: finite-difference gradients for every kind × reduction × weights, the
// large-logit cross-entropy, bit-identical training through the cross-entropy paths, errors.
import XCTest
@testable import SmallNet

final class LossFunctionTests: XCTestCase {
    /// Every loss with the options worth checking apart.
    static func variants() -> [(String, Loss)] {
        var out: [(String, Loss)] = []
        for reduction in [Reduction.mean, .sum, .none] {
            for kind in Loss.Kind.allCases {
                var plain = Loss(kind, reduction: reduction)
                out.append(("\(kind) \(reduction)", plain))
                switch kind {
                case .crossEntropy:
                    plain.labelSmoothing = 0.1
                    out.append(("\(kind) \(reduction) smoothing", plain))
                    plain.weight = [0.5, 2, 1, 0.25]
                    plain.ignoreIndex = 2
                    out.append(("\(kind) \(reduction) weights ignore smoothing", plain))
                    plain.labelSmoothing = 0
                    out.append(("\(kind) \(reduction) weights ignore", plain))
                case .nll:
                    plain.weight = [0.5, 2, 1, 0.25]
                    plain.ignoreIndex = 2
                    out.append(("\(kind) \(reduction) weights ignore", plain))
                case .smoothL1:
                    plain.beta = 0.5
                    out.append(("\(kind) \(reduction) beta 0.5", plain))
                case .huber:
                    plain.delta = 0.7
                    out.append(("\(kind) \(reduction) delta 0.7", plain))
                case .bceWithLogits:
                    plain.weight = [0.5, 2, 1, 0.25]
                    plain.posWeight = [3, 0.5, 1, 2]
                    out.append(("\(kind) \(reduction) weights pos_weight", plain))
                default: break
                }
            }
        }
        return out
    }

    func testEveryGradientMatchesFiniteDifferences() throws {
        let labels: [Int32] = [3, 0, 2, 1, 2]
        var checked = 0
        for (name, loss) in Self.variants() {
            let x = randomTensor([5, 4], seed: 3, scale: 1.5)
            let t = randomTensor([5, 4], seed: 4)
            var targets = t.values
            if loss.kind == .bceWithLogits { targets = targets.map { ($0 + 2) / 4 } }  // in [0, 1]
            let d = try Tensor(shape: [5, 4])
            func value() throws -> Double {
                let v = try labels.withUnsafeBufferPointer { l in
                    try targets.withUnsafeBufferPointer { try loss.compute(input: x, labels: l, targets: $0).values }
                }
                return v.reduce(0) { $0 + Double($1) }
            }
            _ = try labels.withUnsafeBufferPointer { l in
                try targets.withUnsafeBufferPointer { try loss.compute(input: x, labels: l, targets: $0, dInput: d) }
            }
            let h: Float = 1e-2
            for i in 0..<x.count {
                // Skip elements within a step of a kink (|d| = 0, β, δ).
                let gap = abs(x.data[i] - targets[i])
                if [.l1, .smoothL1, .huber].contains(loss.kind),
                   [0, loss.beta, loss.delta].contains(where: { abs(gap - $0) < 2 * h }) { continue }
                let saved = x.data[i]
                x.data[i] = saved + h; let up = try value()
                x.data[i] = saved - h; let down = try value()
                x.data[i] = saved
                XCTAssertEqual(Double(d.data[i]), (up - down) / Double(2 * h), accuracy: 2e-3, "\(name), index \(i)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 700)  // of 900, less those next to a kink
    }

    /// log Σ e^(z − m) − Σ q·(z − m): exact where log Σ e^z − Σ q·z loses the digits.
    func testCrossEntropyKeepsItsPrecisionAtLargeLogits() throws {
        let logits = try Tensor(shape: [1, 10], values: [1e4 + 20] + [Float](repeating: 1e4, count: 9))
        let (loss, _) = try [Int32(0)].withUnsafeBufferPointer {
            try softmaxCrossEntropy(logits: logits, labels: $0, labelSmoothing: 0.1)
        }
        XCTAssertEqual(loss, 1.8, accuracy: 1e-5)  // PyTorch: 1.8000000
        var ce = Loss(.crossEntropy)
        ce.labelSmoothing = 0.1
        let v = try [Int32(0)].withUnsafeBufferPointer { try ce.compute(input: logits, labels: $0).values }
        XCTAssertEqual(v[0], 1.8, accuracy: 1e-5)
    }

    func testHandComputedValues() throws {
        let x = try Tensor(shape: [1, 2], values: [1, -2])
        let t: [Float] = [0, 0]
        func value(_ loss: Loss) throws -> Float {
            try t.withUnsafeBufferPointer { try loss.compute(input: x, targets: $0).values[0] }
        }
        XCTAssertEqual(try value(Loss(.mse)), (1 + 4) / 2)
        XCTAssertEqual(try value(Loss(.l1, reduction: .sum)), 3)
        XCTAssertEqual(try value(Loss(.smoothL1, reduction: .sum)), 0.5 + 1.5)  // 0.5·1², 2 − 0.5
        var huber = Loss(.huber, reduction: .sum)
        huber.delta = 0.5
        XCTAssertEqual(try value(huber), 0.5 * 0.75 + 0.5 * 1.75)  // δ(|d| − δ/2) for |d| = 1, 2
        let bce = try value(Loss(.bceWithLogits, reduction: .sum))
        XCTAssertEqual(Double(bce), log(1 + exp(1.0)) + log(1 + exp(-2.0)), accuracy: 1e-6)
        let nll = try [Int32(1)].withUnsafeBufferPointer { try Loss(.nll).compute(input: x, labels: $0).values[0] }
        XCTAssertEqual(nll, 2)
    }

    /// The new loss formula leaves the gradient, hence training, bit-identical; it may change
    /// the recorded loss in its last bits. Pinned against the former formula, step by step.
    func testTrainingGradientsAreBitIdenticalToTheFormerFormula() throws {
        let data = try syntheticClasses(count: 320, seed: 5)
        var g = RandomGenerator(seed: 3)
        let model = try FCN.build(inputShape: [1, 6, 6], classes: 3, hidden: [16], generator: &g)
        let optimizer = try SGD(parameters: model.parameters, learningRate: 0.05, momentum: 0.9)
        let batch = Tensor(uncheckedShape: [0], count: 0)
        var labels: [Int32] = []
        var unused = RandomGenerator(seed: 0)
        var steps = 0, lossesDiffering = 0, largest: Float = 0
        var epochNew: Double = 0, epochOld: Double = 0
        for smoothing: Float in [0, 0.1] {
            for start in stride(from: 0, to: data.count, by: 32) {
                data.gather(Array(start..<start + 32)[...], into: batch, labels: &labels, preprocessing: nil, generator: &unused)
                let logits = try model.forward(batch)
                let dNew = try Tensor(shape: logits.shape), dOld = try Tensor(shape: logits.shape)
                let new = try labels.withUnsafeBufferPointer {
                    try softmaxCrossEntropy(logits: logits, labels: $0, labelSmoothing: smoothing, dLogits: dNew)
                }
                let old = try labels.withUnsafeBufferPointer {
                    try formerSoftmaxCrossEntropy(logits: logits, labels: $0, labelSmoothing: smoothing, dLogits: dOld)
                }
                XCTAssertEqual(dNew.values.map(\.bitPattern), dOld.values.map(\.bitPattern), "step \(steps)")
                XCTAssertEqual(new.correct, old.correct)
                if new.loss != old.loss { lossesDiffering += 1 }
                largest = max(largest, abs(new.loss - old.loss) / old.loss)
                epochNew += Double(new.loss); epochOld += Double(old.loss)
                optimizer.zeroGrad()
                try model.backward(dNew)
                optimizer.step()
                steps += 1
            }
        }
        print("cross-entropy, former vs new formula: \(lossesDiffering) of \(steps) batch losses differ, "
              + "largest relative difference \(largest); summed losses \(epochOld) vs \(epochNew)")
        XCTAssertLessThan(largest, 1e-6)
    }

    /// Trainer's default path and the general `Loss` path train to the same bits.
    func testDefaultAndGeneralCrossEntropyTrainAlike() throws {
        let data = try syntheticClasses(count: 200, seed: 6)
        func run(_ loss: Loss?) throws -> ([Float], [EpochRecord]) {
            var g = RandomGenerator(seed: 3)
            let model = try FCN.build(inputShape: [1, 6, 6], classes: 3, hidden: [16], generator: &g)
            let optimizer = try SGD(parameters: model.parameters, learningRate: 0.05, momentum: 0.9)
            var config = TrainingConfig()
            config.epochs = 2
            config.batchSize = 32
            config.labelSmoothing = 0.1
            config.loss = loss
            let history = try Trainer.fit(model: model, optimizer: optimizer, train: data, config: config)
            return (model.parameters.flatMap { $0.value.values }, history)
        }
        var general = Loss(.crossEntropy)
        general.labelSmoothing = 0.1
        let (a, ha) = try run(nil), (b, hb) = try run(general)
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern))
        XCTAssertEqual(ha.map(\.trainLoss), hb.map(\.trainLoss))
    }

    func testTrainingWithRegressionLossesOnOneHotTargets() throws {
        let data = try syntheticClasses(count: 300, seed: 7)
        for kind in [Loss.Kind.mse, .huber, .bceWithLogits] {
            var g = RandomGenerator(seed: 3)
            let model = try FCN.build(inputShape: [1, 6, 6], classes: 3, hidden: [16], generator: &g)
            let optimizer = try SGD(parameters: model.parameters, learningRate: 0.05, momentum: 0.9)
            var config = TrainingConfig()
            config.epochs = 4
            config.batchSize = 20
            config.loss = Loss(kind)
            let history = try Trainer.fit(model: model, optimizer: optimizer, train: data, evaluation: data, config: config)
            XCTAssertLessThan(history.last!.trainLoss, history.first!.trainLoss, "\(kind)")
            XCTAssertGreaterThan(history.last!.evalAccuracy!, 0.9, "\(kind)")
        }
    }

    func testBadOptionsAndShapesThrow() throws {
        let x = try Tensor(shape: [2, 3])
        let two: [Int32] = [0, 1], t = [Float](repeating: 0, count: 6)
        func compute(_ loss: Loss, labels: [Int32] = [0, 1], targets: [Float]? = nil, dInput: Tensor? = nil) throws {
            _ = try labels.withUnsafeBufferPointer { l in
                try (targets ?? t).withUnsafeBufferPointer { try loss.compute(input: x, labels: l, targets: $0, dInput: dInput) }
            }
        }
        var l = Loss(.crossEntropy); l.weight = [1, 2]
        XCTAssertThrowsError(try compute(l), "2 weights for 3 classes")
        l = Loss(.nll); l.labelSmoothing = 0.1
        XCTAssertThrowsError(try compute(l), "no smoothing for NLL")
        l = Loss(.smoothL1); l.beta = -1
        XCTAssertThrowsError(try compute(l))
        l = Loss(.huber); l.delta = 0
        XCTAssertThrowsError(try compute(l))
        l = Loss(.bceWithLogits); l.posWeight = [1, 2]
        XCTAssertThrowsError(try compute(l), "2 pos_weight values for 3 columns")
        l = Loss(.mse); l.weight = [1, 1, 1]
        XCTAssertThrowsError(try compute(l), "MSE has no weights")
        XCTAssertThrowsError(try compute(Loss(.crossEntropy), labels: [0, 3]))
        XCTAssertThrowsError(try compute(Loss(.crossEntropy), labels: [0]))
        XCTAssertThrowsError(try compute(Loss(.mse), targets: [0, 0]))
        XCTAssertThrowsError(try compute(Loss(.mse), dInput: try Tensor(shape: [3, 2])))
        XCTAssertThrowsError(try two.withUnsafeBufferPointer { try Loss(.crossEntropy, reduction: .none).batchLoss(input: x, labels: $0, dInput: nil) })
        var config = TrainingConfig()
        config.loss = Loss(.mse, reduction: .none)
        XCTAssertThrowsError(try config.validate())
        // −100 (the default ignore_index) is ignored; every row ignored gives PyTorch's NaN mean.
        let v = try [Int32(-100), -100].withUnsafeBufferPointer { try Loss(.crossEntropy).compute(input: x, labels: $0).values }
        XCTAssertTrue(v[0].isNaN)
    }
}

/// A small synthetic 3-class problem (as TrainingTests'): the class is the brightest of three regions.
private func syntheticClasses(count: Int, seed: UInt64) throws -> Dataset {
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

/// softmaxCrossEntropy as it was before the loss was computed from z − max: the reference the
/// bit-identity test compares against.
private func formerSoftmaxCrossEntropy(
    logits: Tensor, labels: UnsafeBufferPointer<Int32>, labelSmoothing: Float = 0, dLogits: Tensor? = nil
) throws -> (loss: Float, correct: Int) {
    let n = logits.shape[0], c = logits.shape[1]
    var total: Double = 0
    var correct = 0
    let off = labelSmoothing / Float(c), on = 1 - labelSmoothing + off
    let invN = 1 / Float(n)
    for i in 0..<n {
        let z = logits.data + i * c
        var maxZ = z[0], arg = 0
        for j in 1..<c where z[j] > maxZ { maxZ = z[j]; arg = j }
        var sum: Float = 0
        for j in 0..<c { sum += _exp(z[j] - maxZ) }
        let logSum = _log(sum) + maxZ
        let y = Int(labels[i])
        if arg == y { correct += 1 }
        var qz: Float = 0
        if labelSmoothing == 0 {
            qz = z[y]
        } else {
            for j in 0..<c { qz += (j == y ? on : off) * z[j] }
        }
        total += Double(logSum - qz)
        if let d = dLogits?.data {
            let row = d + i * c
            let invSum = 1 / sum
            for j in 0..<c {
                let p = _exp(z[j] - maxZ) * invSum
                let q: Float = labelSmoothing == 0 ? (j == y ? 1 : 0) : (j == y ? on : off)
                row[j] = (p - q) * invN
            }
        }
    }
    return (Float(total / Double(n)), correct)
}
