// Helpers shared by the tests: random tensors and finite-difference gradient checks.
import XCTest
@testable import SmallNet

/// A tensor of the given shape with N(0, 1) · scale entries.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var g = RandomGenerator(seed: seed)
    let t = try! Tensor(shape: shape)
    for i in 0..<t.count { t.data[i] = g.nextNormal() * scale }
    return t
}

/// Checks `layer.backward` against central finite differences of L = Σ w·forward(x), for the
/// input and for every parameter (all entries of small tensors, a sample of large ones).
func checkGradients(_ layer: Layer, inputShape: [Int], training: Bool = true, seed: UInt64 = 1,
                    step: Float = 1e-2, tolerance: Double = 2e-2, awayFromZero: Bool = false,
                    distinct: Bool = false, inputGradient: Bool = true,
                    file: StaticString = #filePath, line: UInt = #line) throws {
    let x = randomTensor(inputShape, seed: seed)
    if distinct {  // values 0.05 apart in random order, so a finite-difference step never changes an arg-max
        var order = Array(0..<x.count)
        var g = RandomGenerator(seed: seed)
        order.shuffle(using: &g)
        for (i, rank) in order.enumerated() { x.data[i] = 0.05 * Float(rank - x.count / 2) }
    }
    if awayFromZero {  // keep inputs off a kink at 0 by more than the finite-difference step
        for i in 0..<x.count where abs(x.data[i]) < 0.1 { x.data[i] += x.data[i] < 0 ? -0.1 : 0.1 }
    }
    func context() -> ExecutionContext { ExecutionContext(training: training, generator: RandomGenerator(seed: 99)) }
    let probe = layer.forward(x, context: context())
    let w = randomTensor(probe.shape, seed: seed + 1)
    func loss() -> Double {
        let y = layer.forward(x, context: context())
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(w.data[i]) }
        return s
    }
    // Analytic gradients.
    for p in layer.parameters { p.grad.fill(0) }
    _ = layer.forward(x, context: context())
    let dOut = try Tensor(shape: w.shape, values: w.values)
    let dxTensor = layer.backward(dOut, needInputGradient: inputGradient, context: context())
    let dx = dxTensor?.values ?? []
    XCTAssertEqual(dx.count, inputGradient ? x.count : 0, "input gradient size", file: file, line: line)

    func compare(_ values: Tensor, _ analytic: [Float], _ what: String) {
        let stride = Swift.max(1, values.count / 200)
        var worst = 0.0
        for i in Swift.stride(from: 0, to: values.count, by: stride) {
            let saved = values.data[i]
            values.data[i] = saved + step
            let up = loss()
            values.data[i] = saved - step
            let down = loss()
            values.data[i] = saved
            let numeric = (up - down) / (2 * Double(step))
            let a = Double(analytic[i])
            let error = abs(a - numeric) / Swift.max(1e-1, abs(a) + abs(numeric))
            worst = Swift.max(worst, error)
        }
        XCTAssertLessThan(worst, tolerance, "\(layer.summary): \(what) gradient differs from finite differences",
                          file: file, line: line)
    }
    if inputGradient { compare(x, dx, "input") }
    for p in layer.parameters {
        compare(p.value, p.grad.values, p.name)
    }
}

/// Checks a whole model's parameter gradients (cross-entropy on `labels`) against central
/// finite differences with `step`, every `stride`-th entry of each parameter.
func checkModelGradients(_ model: Sequential, input x: Tensor, labels: [Int32], step: Float, stride: Int,
                         relative: Double, absolute: Double, file: StaticString = #filePath, line: UInt = #line) throws {
    model.isTraining = true
    func loss() throws -> Double {
        let logits = try model.forward(x)
        return Double(try labels.withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0).loss })
    }
    model.zeroGrad()
    let logits = try model.forward(x)
    let d = try Tensor(shape: logits.shape)
    _ = try labels.withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0, dLogits: d) }
    try model.backward(d)
    for (name, p) in model.namedParameters {
        for i in Swift.stride(from: 0, to: p.value.count, by: stride) {
            let saved = p.value.data[i]
            p.value.data[i] = saved + step; let up = try loss()
            p.value.data[i] = saved - step; let down = try loss()
            p.value.data[i] = saved
            let numeric = (up - down) / Double(2 * step)
            XCTAssertEqual(Double(p.grad.data[i]), numeric, accuracy: absolute + relative * abs(numeric), "\(name)[\(i)]",
                           file: file, line: line)
        }
    }
}
