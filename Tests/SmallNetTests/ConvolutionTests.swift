// CNN layers: finite-difference gradient checks, hand-computed cases, the CNN builder.
import XCTest
@testable import SmallNet

final class ConvolutionTests: XCTestCase {
    func testConv2dGradients() throws {
        var g = RandomGenerator(seed: 5)
        try checkGradients(Conv2d(2, 3, kernelSize: 3, padding: 1, generator: &g), inputShape: [2, 2, 5, 6])
        try checkGradients(Conv2d(3, 4, kernelSize: 3, stride: 2, padding: 1, generator: &g), inputShape: [3, 3, 7, 7])
        try checkGradients(Conv2d(2, 5, kernelSize: 2, stride: 2, bias: false, generator: &g), inputShape: [2, 2, 6, 4])
        try checkGradients(Conv2d(3, 2, kernelSize: 1, generator: &g), inputShape: [2, 3, 4, 4])
        try checkGradients(Conv2d(1, 40, kernelSize: 3, padding: 2, generator: &g), inputShape: [9, 1, 5, 5])
    }

    /// Single-channel "same" convolutions without an input gradient (a first layer) take the
    /// direct path: weight gradients against finite differences, outputs against a plain loop.
    func testDirectSingleChannelConvolution() throws {
        var g = RandomGenerator(seed: 6)
        try checkGradients(Conv2d(1, 6, kernelSize: 3, padding: 1, generator: &g), inputShape: [3, 1, 5, 7],
                           inputGradient: false)
        try checkGradients(Conv2d(1, 5, kernelSize: 5, padding: 2, bias: false, generator: &g), inputShape: [2, 1, 6, 6],
                           inputGradient: false)
        // 3×3 planes of 112 pixels or more go in tiles of 112 pixels × 3 channels (the last tile
        // of a plane overlapping the one before): whole and partial blocks of channels, planes of
        // exactly one tile, of a tile and a part, and just under one tile.
        for (k, h, w, cout) in [(3, 28, 28, 11), (3, 8, 14, 3), (3, 15, 14, 4), (3, 11, 13, 5), (3, 10, 11, 7),
                                (3, 7, 9, 7), (5, 6, 5, 16), (1, 4, 3, 8)] {
            let conv = try Conv2d(1, cout, kernelSize: k, padding: k / 2, generator: &g)
            for o in 0..<cout { conv.bias!.value.data[o] = Float(o) * 0.25 }
            let x = randomTensor([2, 1, h, w], seed: UInt64(h * w))
            let y = conv.forward(x, context: ExecutionContext(training: false))
            var worst: Float = 0
            for s in 0..<2 {
                for o in 0..<cout {
                    for oy in 0..<h {
                        for ox in 0..<w {
                            var expected = conv.bias!.value.data[o]
                            for i in 0..<k {
                                for j in 0..<k {
                                    let iy = oy + i - k / 2, ix = ox + j - k / 2
                                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                    expected += conv.weight.value.data[(o * k + i) * k + j] * x.data[(s * h + iy) * w + ix]
                                }
                            }
                            worst = max(worst, abs(y.data[((s * cout + o) * h + oy) * w + ox] - expected))
                        }
                    }
                }
            }
            XCTAssertLessThan(worst, 1e-5, "k \(k), \(h)×\(w), \(cout) channels")
        }
    }

    /// The direct path's weight gradient (pixels in the lanes) against the im2col + GEMM path's
    /// (pixels summed in order): the same sums in another order, so equal up to rounding, for
    /// images of over 200 pixels, pixel counts not a multiple of 16 (a zero-padded last vector),
    /// one to four blocks of three output channels (partial ones included), 3×3 and 5×5
    /// kernels, and images one pixel wide or high, or 2×2, whose windows reach past the image
    /// on both sides.
    func testDirectWeightGradientAgreesWithTheGEMMPath() throws {
        var worst: Float = 0
        for (cout, h, w, k) in [(30, 28, 28, 3), (7, 15, 14, 3), (9, 17, 13, 5), (16, 15, 14, 3), (17, 15, 14, 3),
                                (6, 40, 1, 3), (6, 1, 40, 3), (4, 2, 2, 3), (1, 5, 5, 3), (2, 7, 7, 3)] {
            var g1 = RandomGenerator(seed: 8), g2 = RandomGenerator(seed: 8)
            let direct = try Conv2d(1, cout, kernelSize: k, padding: k / 2, generator: &g1)
            let viaGEMM = try Conv2d(1, cout, kernelSize: k, padding: k / 2, generator: &g2)
            let x = randomTensor([3, 1, h, w], seed: 11), dy = randomTensor([3, cout, h, w], seed: 12)
            let context = ExecutionContext(training: true)
            _ = direct.forward(x, context: context)
            _ = viaGEMM.forward(x, context: context)
            XCTAssertNil(direct.backward(dy, needInputGradient: false, context: context))
            XCTAssertNotNil(viaGEMM.backward(dy, needInputGradient: true, context: context))
            // Each gradient against Σ|tap·dy| over its terms: the rounding either order can make.
            let magnitude = 3 * h * w  // terms per sum, each |x·dy| ≲ 1 for these inputs
            for (a, b) in zip(direct.weight.grad.values, viaGEMM.weight.grad.values) {
                worst = max(worst, abs(a - b) / Float(magnitude))
                XCTAssertEqual(a, b, accuracy: 1e-6 * Float(magnitude), "\(cout) channels, \(h)×\(w), \(k)×\(k)")
            }
        }
        print("direct against GEMM weight gradient: largest difference \(worst) per term")
    }

    func testConv2dHandComputed() throws {
        var g = RandomGenerator(seed: 0)
        let conv = try Conv2d(1, 1, kernelSize: 3, padding: 1, generator: &g)
        conv.weight.value.data.update(from: [0, 0, 0, 0, 1, 0, 0, 0, 2], count: 9)  // x[y][x] + 2·x[y+1][x+1]
        conv.bias!.value.data[0] = 0.5
        let x = try Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        let y = conv.forward(x, context: ExecutionContext(training: false))
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        let expected: [Float] = [9.5, 2.5, 3.5, 4.5]  // 1 + 2·4 + 0.5, then no lower-right neighbour
        XCTAssertEqual(y.values, expected)
    }

    func testConv2dResultsDoNotDependOnThreadCount() throws {
        func run(_ pool: ThreadPool?) throws -> [Float] {
            var g = RandomGenerator(seed: 1)
            let conv = try Conv2d(3, 8, kernelSize: 3, padding: 1, generator: &g)
            let context = ExecutionContext(training: true, pool: pool)
            let y = conv.forward(randomTensor([13, 3, 9, 9], seed: 2), context: context)
            let dx = conv.backward(randomTensor(y.shape, seed: 3), needInputGradient: true, context: context)!
            return y.values + dx.values + conv.weight.grad.values + conv.bias!.grad.values
        }
        XCTAssertEqual(try run(nil), try run(ThreadPool(threads: 2)))
    }

    func testMaxPool2dGradientsAndValues() throws {
        try checkGradients(MaxPool2d(kernelSize: 2), inputShape: [2, 3, 6, 5], distinct: true)
        try checkGradients(MaxPool2d(kernelSize: 3, stride: 2), inputShape: [2, 2, 7, 7], distinct: true)
        let x = try Tensor(shape: [1, 1, 2, 4], values: [1, 5, 2, 0, 3, 4, 8, 7])
        let y = try MaxPool2d(kernelSize: 2).forward(x, context: ExecutionContext(training: true))
        XCTAssertEqual(y.shape, [1, 1, 1, 2])
        XCTAssertEqual(y.values, [5, 8])
    }

    func testAvgPool2dGradientsAndValues() throws {
        try checkGradients(AvgPool2d(kernelSize: 2), inputShape: [2, 3, 6, 5])
        try checkGradients(AvgPool2d(kernelSize: 3, stride: 2), inputShape: [2, 2, 7, 7])
        let x = try Tensor(shape: [1, 1, 2, 4], values: [1, 5, 2, 0, 3, 4, 8, 7])
        XCTAssertEqual(try AvgPool2d(kernelSize: 2).forward(x, context: ExecutionContext(training: true)).values, [3.25, 4.25])
    }

    func testGlobalAvgPool2d() throws {
        try checkGradients(GlobalAvgPool2d(), inputShape: [3, 4, 3, 5])
        let x = try Tensor(shape: [1, 2, 1, 2], values: [1, 3, 5, 9])
        XCTAssertEqual(GlobalAvgPool2d().forward(x, context: ExecutionContext(training: true)).values, [2, 7])
    }

    func testBatchNorm2dGradientsAndStatistics() throws {
        let bn = try BatchNorm2d(3)
        var g = RandomGenerator(seed: 2)
        for i in 0..<3 { bn.weight.value.data[i] = 1 + 0.5 * g.nextNormal(); bn.bias.value.data[i] = g.nextNormal() }
        try checkGradients(bn, inputShape: [4, 3, 5, 7], training: true)
        try checkGradients(bn, inputShape: [4, 3, 5, 7], training: false)
        let fresh = try BatchNorm2d(1)
        let x = try Tensor(shape: [2, 1, 1, 2], values: [1, 2, 3, 4])
        let y = fresh.forward(x, context: ExecutionContext(training: true))
        let expected = [1, 2, 3, 4].map { Float(($0 - 2.5) / (1.25 + 1e-5).squareRoot()) }
        for (a, b) in zip(y.values, expected) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(fresh.runningMean[0], 0.25, accuracy: 1e-6)
        XCTAssertEqual(fresh.runningVar[0], 0.9 + 0.1 * (5.0 / 3.0), accuracy: 1e-6)
    }

    func testBadLayerSettingsThrow() {
        var g = RandomGenerator(seed: 0)
        XCTAssertThrowsError(try Conv2d(0, 3, kernelSize: 3, generator: &g))
        XCTAssertThrowsError(try Conv2d(1, 3, kernelSize: 3, stride: 0, generator: &g))
        XCTAssertThrowsError(try Conv2d(1, 3, kernelSize: 3, padding: 3, generator: &g))
        XCTAssertThrowsError(try MaxPool2d(kernelSize: 0))
        XCTAssertThrowsError(try AvgPool2d(kernelSize: 2, stride: 0))
        XCTAssertThrowsError(try BatchNorm2d(0))
        XCTAssertThrowsError(try Sequential(inputShape: [1, 2, 2], layers: [MaxPool2d(kernelSize: 3)]))
        XCTAssertThrowsError(try Sequential(inputShape: [1, 28, 28], layers: [Conv2d(3, 4, kernelSize: 3, generator: &g)]))
    }

    func testCNNBudgetsLandWithinTwoPercent() throws {
        for budget in [5_000, 10_000, 20_000, 50_000, 100_000, 300_000] {
            for head in CNN.Head.allCases {
                let widths = try CNN.channelWidths(budget: budget, head: head)
                var g = RandomGenerator(seed: 0)
                let model = try CNN.build(channels: widths, head: head, generator: &g)
                XCTAssertEqual(model.parameterCount, CNN.parameterCount(channels: widths, head: head))
                XCTAssertEqual(Double(model.parameterCount), Double(budget), accuracy: 0.02 * Double(budget), "\(budget) \(head): \(widths)")
            }
        }
        XCTAssertThrowsError(try CNN.channelWidths(budget: 50))
    }

    func testCNNBackwardMatchesFiniteDifferences() throws {
        var g = RandomGenerator(seed: 9)
        let model = try CNN.build(inputShape: [1, 8, 8], classes: 3, channels: [3, 4], head: .linear, dropout: 0, generator: &g)
        // A small step, so that few max-pool windows or ReLUs switch between the two sides.
        try checkModelGradients(model, input: randomTensor([4, 1, 8, 8], seed: 4), labels: [0, 1, 2, 1],
                                step: 1e-3, stride: 5, relative: 3e-2, absolute: 3e-3)
    }

    func testCheckpointRoundTripOfACNN() throws {
        var g = RandomGenerator(seed: 3)
        let model = try CNN.build(inputShape: [1, 8, 8], classes: 3, channels: [3, 4], head: .globalAverage, dropout: 0.2, generator: &g)
        _ = try model.forward(randomTensor([4, 1, 8, 8], seed: 1))  // moves running statistics
        model.isTraining = false
        let x = randomTensor([2, 1, 8, 8], seed: 2)
        let before = try model.forward(x).values
        let path = "/tmp/smallnet-cnn-\(getpid()).safetensors"
        defer { unlink(path) }
        try Checkpoint.save(model, to: path, trainingConfig: "{}")
        let loaded = try Checkpoint.load(from: path)
        XCTAssertEqual(loaded.architecture, model.architecture)
        XCTAssertEqual(try loaded.forward(x).values, before)
    }
}
