// Activations, softmax layers, channel dropout and layer normalisation: gradients, values, errors.
import XCTest
@testable import SmallNet

final class ActivationNormalizationTests: XCTestCase {
    private let eval = ExecutionContext(training: false)

    private func apply(_ layer: Layer, _ values: [Float], shape: [Int]? = nil) throws -> [Float] {
        layer.forward(try Tensor(shape: shape ?? [1, values.count], values: values), context: eval).values
    }

    func testElementwiseGradients() throws {
        // 4 × 37: vector bodies and scalar tails; away from 0 where the layer has a kink.
        try checkGradients(LeakyReLU(), inputShape: [4, 37], awayFromZero: true)
        try checkGradients(LeakyReLU(negativeSlope: -0.7), inputShape: [4, 37], awayFromZero: true)
        try checkGradients(ELU(), inputShape: [4, 37], awayFromZero: true)
        try checkGradients(ELU(alpha: 0.4), inputShape: [3, 5, 7], awayFromZero: true)
        try checkGradients(GELU(), inputShape: [4, 37])
        try checkGradients(GELU(approximate: .tanh), inputShape: [4, 37])
        try checkGradients(SiLU(), inputShape: [4, 37])
        try checkGradients(Tanh(), inputShape: [4, 37])
        try checkGradients(Sigmoid(), inputShape: [4, 37])
    }

    func testElementwiseValues() throws {
        let x: [Float] = [-2, -0.5, 0, 0.5, 3]
        let tol: Float = 1e-6
        func near(_ a: [Float], _ b: [Double], file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(a.count, b.count, file: file, line: line)
            for (u, v) in zip(a, b) { XCTAssertEqual(Double(u), v, accuracy: Double(tol) * Swift.max(1, abs(v)), file: file, line: line) }
        }
        near(try apply(LeakyReLU(), x), [-0.02, -0.005, 0, 0.5, 3])
        near(try apply(ELU(alpha: 2), x), [2 * (0.1353352832366127 - 1), 2 * (0.6065306597126334 - 1), 0, 0.5, 3])
        // Φ(x) by hand: Φ(−2) = 0.0227501319, Φ(−0.5) = 0.3085375387, Φ(0.5) = 0.6914624613, Φ(3) = 0.9986501020
        near(try apply(GELU(), x), [-2 * 0.0227501319481792, -0.5 * 0.3085375387259869, 0, 0.5 * 0.6914624612740131, 3 * 0.9986501019683699])
        let tanhGELU = x.map { v -> Double in
            let d = Double(v); return 0.5 * d * (1 + tanh(0.7978845608028654 * (d + 0.044715 * d * d * d)))
        }
        near(try apply(GELU(approximate: .tanh), x), tanhGELU)
        near(try apply(SiLU(), x), x.map { Double($0) / (1 + exp(-Double($0))) })
        near(try apply(Tanh(), x), x.map { tanh(Double($0)) })
        near(try apply(Sigmoid(), x), x.map { 1 / (1 + exp(-Double($0))) })
        // Saturation without overflow.
        XCTAssertEqual(try apply(Sigmoid(), [-200, 200]), [0, 1])
        XCTAssertEqual(try apply(SiLU(), [-200, 200]), [-0, 200])
    }

    func testElementwiseNaNPropagates() throws {
        let values: [Float] = (0..<20).map { $0 == 3 || $0 == 18 ? .nan : Float($0 % 5) - 2 }
        let layers: [Layer] = [try LeakyReLU(), try ELU(), GELU(), GELU(approximate: .tanh), SiLU(), Tanh(), Sigmoid()]
        for layer in layers {
            let y = try apply(layer, values)
            XCTAssertTrue(y[3].isNaN && y[18].isNaN, "\(layer.summary) propagates NaN")
            XCTAssertEqual(y.filter(\.isNaN).count, 2, "\(layer.summary): only the NaN inputs")
        }
    }

    func testSoftmaxAndLogSoftmax() throws {
        try checkGradients(Softmax(), inputShape: [5, 9])
        try checkGradients(LogSoftmax(), inputShape: [5, 9])
        // Large logits: no overflow; rows sum to 1.
        let x: [Float] = [1000, 1001, 1002, -5, -4, -3]
        let y = try apply(Softmax(), x, shape: [2, 3])
        let e = [exp(-2.0), exp(-1.0), 1.0]
        let s = e.reduce(0, +)
        for j in 0..<3 {
            XCTAssertEqual(Double(y[j]), e[j] / s, accuracy: 1e-6)
            XCTAssertEqual(Double(y[3 + j]), e[j] / s, accuracy: 1e-6)  // shift invariance
        }
        let logY = try apply(LogSoftmax(), x, shape: [2, 3])
        for j in 0..<3 {
            XCTAssertEqual(Double(logY[j]), log(e[j] / s), accuracy: 1e-6)
            XCTAssertEqual(Double(logY[3 + j]), log(e[j] / s), accuracy: 1e-6)
        }
        // A NaN makes its row NaN and leaves the other row alone.
        let withNaN = try apply(Softmax(), [1, .nan, 2, 0, 0, 0], shape: [2, 3])
        XCTAssertTrue(withNaN[0..<3].allSatisfy(\.isNaN))
        let third: Float = 1.0 / 3
        XCTAssertEqual(Array(withNaN[3...]), [third, third, third])
        // Flat features only.
        XCTAssertThrowsError(try Softmax().outputShape(for: [2, 3, 3]))
        XCTAssertThrowsError(try LogSoftmax().outputShape(for: [2, 3, 3]))
    }

    func testDropout2dDropsWholeChannels() throws {
        try checkGradients(Dropout2d(p: 0.4), inputShape: [3, 4, 3, 5])
        let layer = try Dropout2d(p: 0.5)
        let x = try Tensor(shape: [8, 16, 3, 3], values: [Float](repeating: 1, count: 8 * 16 * 9))
        let y = layer.forward(x, context: ExecutionContext(training: true, generator: RandomGenerator(seed: 5))).values
        var kept = 0
        for plane in 0..<(8 * 16) {
            let values = Set(y[(plane * 9)..<(plane * 9 + 9)])
            XCTAssertTrue(values == [0] || values == [2], "a channel is all dropped or all kept × 1/(1 − p)")
            if values == [2] { kept += 1 }
        }
        XCTAssertEqual(Double(kept), 64, accuracy: 20)
        XCTAssertEqual(layer.forward(x, context: eval).values, x.values, "eval mode is the identity")
        // Same seed, same channels.
        let again = layer.forward(x, context: ExecutionContext(training: true, generator: RandomGenerator(seed: 5))).values
        XCTAssertEqual(again, y)
        XCTAssertThrowsError(try Dropout2d(p: 1))
        XCTAssertThrowsError(try Dropout2d(p: -0.1))
        XCTAssertThrowsError(try Dropout2d(p: .nan))
        XCTAssertThrowsError(try layer.outputShape(for: [10]))
    }

    func testLayerNormGradients() throws {
        for dims in [[7], [3, 5], [2, 3, 4]] {
            let ln = try LayerNorm(normalizedShape: dims)
            var g = RandomGenerator(seed: 8)
            for i in 0..<ln.weight!.value.count {
                ln.weight!.value.data[i] = 1 + 0.3 * g.nextNormal()
                ln.bias!.value.data[i] = 0.2 * g.nextNormal()
            }
            try checkGradients(ln, inputShape: [4, 2] + dims, training: true)
            try checkGradients(ln, inputShape: [4, 2] + dims, training: false)
        }
        try checkGradients(LayerNorm(normalizedShape: [6], elementwiseAffine: false), inputShape: [5, 6])
    }

    func testLayerNormValuesAndErrors() throws {
        let ln = try LayerNorm(normalizedShape: [4])
        XCTAssertEqual(ln.parameters.map(\.name), ["weight", "bias"])
        XCTAssertEqual(ln.weight!.value.values, [1, 1, 1, 1])
        XCTAssertEqual(ln.bias!.value.values, [0, 0, 0, 0])
        // Row (1, 2, 3, 4): mean 2.5, biased variance 1.25.
        let y = try apply(ln, [1, 2, 3, 4, 5, 5, 5, 5], shape: [2, 4])
        for (j, v) in [1.0, 2, 3, 4].enumerated() { XCTAssertEqual(Double(y[j]), (v - 2.5) / (1.25 + 1e-5).squareRoot(), accuracy: 1e-6) }
        XCTAssertEqual(Array(y[4...]), [0, 0, 0, 0], "a constant row normalises to 0")
        XCTAssertEqual(try LayerNorm(normalizedShape: [4], elementwiseAffine: false).parameters.count, 0)
        XCTAssertThrowsError(try LayerNorm(normalizedShape: []))
        XCTAssertThrowsError(try LayerNorm(normalizedShape: [1, 2, 3, 4]))
        XCTAssertThrowsError(try LayerNorm(normalizedShape: [0]))
        XCTAssertThrowsError(try LayerNorm(normalizedShape: [4], eps: 0))
        XCTAssertThrowsError(try LayerNorm(normalizedShape: [4], eps: .infinity))
        XCTAssertThrowsError(try LayerNorm(normalizedShape: [1 << 20, 1 << 20]))
        XCTAssertThrowsError(try ln.outputShape(for: [2, 5]))
        XCTAssertEqual(try ln.outputShape(for: [3, 4]), [3, 4])
        XCTAssertThrowsError(try LeakyReLU(negativeSlope: .nan))
        XCTAssertThrowsError(try ELU(alpha: .infinity))
    }

    func testSpecsRebuildAndCheckpointRoundTrip() throws {
        let model = try Sequential(inputShape: [2, 6, 6])
        var g = RandomGenerator(seed: 1)
        try model.append(Conv2d(2, 4, kernelSize: 3, stride: 1, padding: 1, generator: &g))
        try model.append(LayerNorm(normalizedShape: [6, 6], eps: 1e-4))
        try model.append(GELU(approximate: .tanh))
        try model.append(Dropout2d(p: 0.25))
        try model.append(ELU(alpha: 0.5))
        try model.append(Flatten())
        try model.append(LayerNorm(normalizedShape: [144], elementwiseAffine: false))
        try model.append(LeakyReLU(negativeSlope: 0.2))
        try model.append(Linear(144, 8, generator: &g))
        try model.append(SiLU())
        try model.append(Tanh())
        try model.append(Sigmoid())
        try model.append(Softmax())
        try model.append(LogSoftmax())
        let twin = try Sequential(architecture: model.architecture)
        XCTAssertEqual(twin.architecture.serialized(), model.architecture.serialized())
        XCTAssertEqual(twin.layers.map(\.summary), model.layers.map(\.summary))
        XCTAssertEqual(twin.namedParameters.map { $0.0 }, model.namedParameters.map { $0.0 })
        // A checkpoint that declares more LayerNorm state than it may hold is refused.
        let big = JSON.object([("input", .array([.number(4)])),
                               ("layers", .array([.object([("kind", .string("layernorm")), ("shape", .array([.number(1 << 24), .number(1 << 24)])),
                                                           ("eps", .number(Float(1e-5))), ("affine", .bool(true))])]))])
        XCTAssertThrowsError(try Sequential(architecture: big, stateLimit: 1000))
        let badGELU = JSON.object([("input", .array([.number(4)])),
                                   ("layers", .array([.object([("kind", .string("gelu")), ("approximate", .string("erf"))])]))])
        XCTAssertThrowsError(try Sequential(architecture: badGELU))
    }
}
