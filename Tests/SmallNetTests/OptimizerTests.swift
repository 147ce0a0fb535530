// Optimizers: one or two steps against hand-computed values, defaults, invalid values.
import XCTest
@testable import SmallNet

final class OptimizerTests: XCTestCase {
    /// A one-element parameter with value `value` and gradient `grad`.
    func scalar(_ value: Float, grad: Float) -> Parameter {
        let p = Parameter(name: "w", shape: [1])
        p.value.data[0] = value
        p.grad.data[0] = grad
        return p
    }

    func testSGDMomentumAndWeightDecay() throws {
        let p = scalar(1, grad: 0.5)
        let sgd = try SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        sgd.step()  // d = 0.5 + 0.1·1 = 0.6, b = 0.6, p = 1 − 0.06
        XCTAssertEqual(p.value[0], 0.94, accuracy: 1e-6)
        sgd.step()  // d = 0.5 + 0.094 = 0.594, b = 0.54 + 0.594 = 1.134, p = 0.94 − 0.1134
        XCTAssertEqual(p.value[0], 0.8266, accuracy: 1e-6)
    }

    func testSGDNesterovAndPlain() throws {
        let p = scalar(1, grad: 0.5)
        try SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, nesterov: true).step()
        XCTAssertEqual(p.value[0], 1 - 0.1 * (0.5 + 0.9 * 0.5), accuracy: 1e-6)
        let q = scalar(1, grad: 0.5)
        try SGD(parameters: [q], learningRate: 0.1).step()
        XCTAssertEqual(q.value[0], 0.95, accuracy: 1e-7)
    }

    func testAdamFirstStep() throws {
        let p = scalar(1, grad: 0.5)
        try Adam(parameters: [p], learningRate: 0.1).step()
        // m = 0.05, v = 0.00025, m̂ = 0.5, √v̂ = 0.5 → p = 1 − 0.1·0.5/0.5
        XCTAssertEqual(p.value[0], 0.9, accuracy: 1e-6)
    }

    func testAdamL2AndAdamWDecoupledDecay() throws {
        let p = scalar(1, grad: 0.5)
        try Adam(parameters: [p], learningRate: 0.1, weightDecay: 0.5).step()
        XCTAssertEqual(p.value[0], 0.9, accuracy: 1e-6, "first Adam step is lr·sign(g) whatever the L2 term")
        let q = scalar(1, grad: 0.5)
        try Adam.adamW(parameters: [q], learningRate: 0.1, weightDecay: 0.01).step()
        XCTAssertEqual(q.value[0], 1 * (1 - 0.1 * 0.01) - 0.1, accuracy: 1e-6)
    }

    func testAdamSecondStep() throws {
        let p = scalar(1, grad: 0.5)
        let adam = try Adam(parameters: [p], learningRate: 0.1)
        adam.step()
        p.grad.data[0] = -0.25
        adam.step()
        let m = 0.9 * 0.05 + 0.1 * -0.25, v = 0.999 * 0.00025 + 0.001 * 0.0625
        let expected = 0.9 - 0.1 / (1 - 0.81) * m / ((v).squareRoot() / (1 - 0.998001).squareRoot() + 1e-8)
        XCTAssertEqual(Double(p.value[0]), expected, accuracy: 1e-6)
    }

    func testRMSProp() throws {
        let p = scalar(1, grad: 0.5)
        try RMSProp(parameters: [p], learningRate: 0.01).step()  // s = 0.0025, avg = 0.05
        XCTAssertEqual(p.value[0], 0.9, accuracy: 1e-6)
        let q = scalar(1, grad: 0.5)
        try RMSProp(parameters: [q], learningRate: 0.01, momentum: 0.9).step()  // b = 10
        XCTAssertEqual(q.value[0], 0.9, accuracy: 1e-6)
        let r = scalar(1, grad: 0.5)
        try RMSProp(parameters: [r], learningRate: 0.01, centered: true).step()  // ḡ = 0.005
        XCTAssertEqual(Double(r.value[0]), 1 - 0.01 * 0.5 / (0.0025 - 0.000025).squareRoot(), accuracy: 1e-6)
    }

    func testDefaultsArePyTorchs() throws {
        let sgd = try SGD(parameters: [])
        XCTAssertEqual([sgd.learningRate, sgd.momentum, sgd.dampening, sgd.weightDecay], [0.001, 0, 0, 0])
        XCTAssertFalse(sgd.nesterov)
        let rms = try RMSProp(parameters: [])
        XCTAssertEqual([rms.learningRate, rms.alpha, rms.eps, rms.weightDecay, rms.momentum], [0.01, 0.99, 1e-8, 0, 0])
        XCTAssertFalse(rms.centered)
        let adam = try Adam(parameters: [])
        XCTAssertEqual([adam.learningRate, adam.beta1, adam.beta2, adam.eps, adam.weightDecay], [0.001, 0.9, 0.999, 1e-8, 0])
        let adamW = try Adam.adamW(parameters: [])
        XCTAssertEqual(adamW.weightDecay, 0.01)
        XCTAssertEqual(adamW.name, "adamw")
    }

    func testInvalidHyperParametersNameTheValue() {
        func message(_ body: () throws -> Any) -> String {
            do { _ = try body(); return "" } catch { return (error as? SmallNetError)?.message ?? "" }
        }
        XCTAssertTrue(message { try SGD(parameters: [], learningRate: -1) }.contains("learning rate"))
        XCTAssertTrue(message { try SGD(parameters: [], learningRate: .nan) }.contains("learning rate"))
        XCTAssertTrue(message { try SGD(parameters: [], momentum: -0.1) }.contains("momentum"))
        XCTAssertTrue(message { try SGD(parameters: [], nesterov: true) }.contains("nesterov"))
        XCTAssertTrue(message { try Adam(parameters: [], beta1: 1) }.contains("beta1"))
        XCTAssertTrue(message { try Adam(parameters: [], beta2: -0.5) }.contains("beta2"))
        XCTAssertTrue(message { try Adam(parameters: [], eps: -1) }.contains("eps"))
        XCTAssertTrue(message { try RMSProp(parameters: [], alpha: 1.5) }.contains("alpha"))
        XCTAssertTrue(message { try Adam.adamW(parameters: [], weightDecay: -1) }.contains("weight decay"))
    }

    func testSchedules() throws {
        XCTAssertEqual(LearningRateSchedule.constant.learningRate(base: 0.1, step: 50, totalSteps: 100, stepsPerEpoch: 10), 0.1)
        let step = LearningRateSchedule.step(stepSize: 2, gamma: 0.5)
        XCTAssertEqual(step.learningRate(base: 0.1, step: 19, totalSteps: 100, stepsPerEpoch: 10), 0.1)
        XCTAssertEqual(step.learningRate(base: 0.1, step: 20, totalSteps: 100, stepsPerEpoch: 10), 0.05, accuracy: 1e-7)
        XCTAssertEqual(step.learningRate(base: 0.1, step: 45, totalSteps: 100, stepsPerEpoch: 10), 0.025, accuracy: 1e-7)
        let cosine = LearningRateSchedule.cosine(warmupEpochs: 1, minimum: 0)
        XCTAssertEqual(cosine.learningRate(base: 0.1, step: 0, totalSteps: 110, stepsPerEpoch: 10), 0.01, accuracy: 1e-7)
        XCTAssertEqual(cosine.learningRate(base: 0.1, step: 9, totalSteps: 110, stepsPerEpoch: 10), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cosine.learningRate(base: 0.1, step: 10, totalSteps: 110, stepsPerEpoch: 10), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cosine.learningRate(base: 0.1, step: 60, totalSteps: 110, stepsPerEpoch: 10), 0.05, accuracy: 1e-6)
        XCTAssertEqual(cosine.learningRate(base: 0.1, step: 110, totalSteps: 110, stepsPerEpoch: 10), 0, accuracy: 1e-7)
        XCTAssertThrowsError(try LearningRateSchedule.step(stepSize: 0, gamma: 0.1).validate())
        XCTAssertThrowsError(try LearningRateSchedule.cosine(warmupEpochs: -1, minimum: 0).validate())
    }
}
