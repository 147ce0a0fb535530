// The Winograd F(2×2, 3×3) path of Conv2d against the im2col + GEMM path and finite differences,
// and its weight transforms against their definitions.
import XCTest
@testable import SmallNet
import SmallNetKernels

final class WinogradTests: XCTestCase {
    /// Output, input gradient, weight and bias gradients of both paths on the same layer and data,
    /// each difference relative to the largest magnitude of its tensor.
    func testWinogradAgreesWithTheGEMMPath() throws {
        var worst: Float = 0
        for (cin, cout, h, w, n) in [(30, 62, 14, 14, 5), (62, 127, 7, 7, 3), (2, 3, 1, 1, 2), (3, 5, 2, 3, 2),
                                     (4, 6, 9, 11, 3), (5, 4, 1, 8, 2), (7, 9, 13, 2, 10), (16, 16, 28, 28, 1)] {
            var g1 = RandomGenerator(seed: 8), g2 = RandomGenerator(seed: 8)
            let winograd = try Conv2d(cin, cout, kernelSize: 3, padding: 1, generator: &g1)
            let reference = try Conv2d(cin, cout, kernelSize: 3, padding: 1, generator: &g2)
            XCTAssertEqual(winograd.winogradEnabled, cin >= WinogradConvolution.minimumInputChannels)
            winograd.winogradEnabled = true
            reference.winogradEnabled = false
            let x = randomTensor([n, cin, h, w], seed: 11), dy = randomTensor([n, cout, h, w], seed: 12)
            let context = ExecutionContext(training: true)
            let y1 = winograd.forward(x, context: context).values, y2 = reference.forward(x, context: context).values
            let dx1 = winograd.backward(dy, needInputGradient: true, context: context)!.values
            let dx2 = reference.backward(dy, needInputGradient: true, context: context)!.values
            let label = "\(cin) → \(cout), \(h)×\(w), \(n) samples"
            for (a, b) in [(y1, y2), (dx1, dx2), (winograd.weight.grad.values, reference.weight.grad.values),
                           (winograd.bias!.grad.values, reference.bias!.grad.values)] {
                let scale = max(b.map(abs).max() ?? 0, 1e-3)
                XCTAssertEqual(a.count, b.count, label)
                for (p, q) in zip(a, b) {
                    worst = max(worst, abs(p - q) / scale)
                    XCTAssertEqual(p, q, accuracy: 2e-5 * scale, label)
                }
            }
        }
        print("Winograd against im2col + GEMM: largest difference \(worst) of the largest value")
    }

    /// U = G g Gᵀ and dW += Gᵀ dU G against the matrix products written out in Double, on 1, 16
    /// and 37 kernels (a tail alone, one whole vector, two and a tail), with G = [1 0 0; ½ ½ ½;
    /// ½ −½ ½; 0 0 1].
    func testWeightTransformsAreTheirMatrixProducts() {
        let G: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        for count in [1, 16, 37] {
            let g = randomTensor([count, 9], seed: 21).values, du = randomTensor([16, count], seed: 22).values
            let dW0 = randomTensor([count, 9], seed: 23).values
            var u = [Float](repeating: 0, count: 16 * count), dW = dW0
            kernels.winogradWeightTransform(g, count: count, into: &u)
            kernels.winogradWeightGradientTransform(du, count: count, into: &dW)
            for k in 0..<count {
                for i in 0..<4 {
                    for j in 0..<4 {
                        var expected = 0.0
                        for x in 0..<3 { for y in 0..<3 { expected += G[i][x] * Double(g[9 * k + 3 * x + y]) * G[j][y] } }
                        XCTAssertEqual(Double(u[(4 * i + j) * count + k]), expected, accuracy: 1e-6, "\(count) kernels, U[\(i), \(j)] of \(k)")
                    }
                }
                for x in 0..<3 {
                    for y in 0..<3 {
                        var expected = Double(dW0[9 * k + 3 * x + y])
                        for i in 0..<4 { for j in 0..<4 { expected += G[i][x] * Double(du[(4 * i + j) * count + k]) * G[j][y] } }
                        XCTAssertEqual(Double(dW[9 * k + 3 * x + y]), expected, accuracy: 1e-5, "\(count) kernels, dW[\(x), \(y)] of \(k)")
                    }
                }
            }
        }
    }

    func testWinogradGradientsMatchFiniteDifferences() throws {
        var g = RandomGenerator(seed: 3)
        let conv = try Conv2d(3, 4, kernelSize: 3, padding: 1, generator: &g)
        conv.winogradEnabled = true
        try checkGradients(conv, inputShape: [2, 3, 5, 7], seed: 4)
    }

    func testWinogradResultsDoNotDependOnThreadCount() throws {
        func run(_ pool: ThreadPool?) throws -> [Float] {
            var g = RandomGenerator(seed: 1)
            let conv = try Conv2d(6, 8, kernelSize: 3, padding: 1, generator: &g)
            conv.winogradEnabled = true
            let context = ExecutionContext(training: true, pool: pool)
            let y = conv.forward(randomTensor([13, 6, 9, 9], seed: 2), context: context)
            let dx = conv.backward(randomTensor(y.shape, seed: 3), needInputGradient: true, context: context)!
            return y.values + dx.values + conv.weight.grad.values + conv.bias!.grad.values
        }
        XCTAssertEqual(try run(nil), try run(ThreadPool(threads: 2)))
    }
}
