// Convolution and pooling options: dilated and grouped convolutions, padded and ceil-mode
// pooling, adaptive pooling, BatchNorm options and its batch-size rule.
import XCTest
@testable import SmallNet

final class ConvPoolTests: XCTestCase {
    func testDilatedAndGroupedConv2dGradients() throws {
        var g = RandomGenerator(seed: 11)
        try checkGradients(Conv2d(2, 3, kernelSize: 3, padding: 2, dilation: 2, generator: &g), inputShape: [2, 2, 7, 6])
        try checkGradients(Conv2d(4, 6, kernelSize: 3, padding: 1, groups: 2, generator: &g), inputShape: [3, 4, 5, 5])
        try checkGradients(Conv2d(3, 3, kernelSize: 3, padding: Conv2d.samePadding, groups: 3, generator: &g),
                           inputShape: [2, 3, 6, 5])
        try checkGradients(Conv2d(4, 8, kernelSize: 3, stride: 2, padding: 1, dilation: 2, groups: 4, bias: false,
                                  generator: &g), inputShape: [9, 4, 9, 8])
        try checkGradients(Conv2d(1, 4, kernelSize: 5, padding: Conv2d.samePadding, dilation: 2, generator: &g),
                           inputShape: [2, 1, 9, 9], inputGradient: false)
    }

    /// A grouped, dilated convolution against a plain loop over the definition.
    func testGroupedDilatedConv2dMatchesDefinition() throws {
        var g = RandomGenerator(seed: 12)
        let (cin, cout, k, s, p, d, groups, h, w) = (4, 6, 3, 2, 2, 2, 2, 9, 8)
        let conv = try Conv2d(cin, cout, kernelSize: k, stride: s, padding: p, dilation: d, groups: groups, generator: &g)
        for o in 0..<cout { conv.bias!.value.data[o] = Float(o) * 0.1 }
        XCTAssertEqual(conv.weight.value.shape, [cout, cin / groups, k, k])
        let x = randomTensor([2, cin, h, w], seed: 3)
        let y = conv.forward(x, context: ExecutionContext(training: false))
        let ho = (h + 2 * p - d * (k - 1) - 1) / s + 1, wo = (w + 2 * p - d * (k - 1) - 1) / s + 1
        XCTAssertEqual(y.shape, [2, cout, ho, wo])
        var worst: Float = 0
        let cg = cin / groups, og = cout / groups
        for n in 0..<2 {
            for o in 0..<cout {
                let group = o / og
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var expected = conv.bias!.value.data[o]
                        for c in 0..<cg {
                            for i in 0..<k {
                                for j in 0..<k {
                                    let iy = oy * s + i * d - p, ix = ox * s + j * d - p
                                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                    expected += conv.weight.value.data[((o * cg + c) * k + i) * k + j]
                                        * x.data[((n * cin + group * cg + c) * h + iy) * w + ix]
                                }
                            }
                        }
                        worst = max(worst, abs(y.data[((n * cout + o) * ho + oy) * wo + ox] - expected))
                    }
                }
            }
        }
        XCTAssertLessThan(worst, 1e-5)
    }

    /// "same" padding with dilation 1 and one group is the plain layer: same path, same numbers.
    func testSamePaddingKeepsTheDefaultPath() throws {
        var g1 = RandomGenerator(seed: 4), g2 = RandomGenerator(seed: 4)
        let same = try Conv2d(3, 5, kernelSize: 5, padding: Conv2d.samePadding, generator: &g1)
        let plain = try Conv2d(3, 5, kernelSize: 5, padding: 2, generator: &g2)
        XCTAssertEqual(same.padding, 2)
        XCTAssertEqual(same.spec, plain.spec)
        XCTAssertEqual(plain.spec.serialized(),
                       #"{"kind":"conv2d","in":3,"out":5,"kernel":5,"stride":1,"padding":2,"bias":true}"#)
        let x = randomTensor([2, 3, 7, 7], seed: 9)
        XCTAssertEqual(same.forward(x, context: ExecutionContext(training: false)).values,
                       plain.forward(x, context: ExecutionContext(training: false)).values)
    }

    func testConvAndPoolSpecsRoundTrip() throws {
        var g = RandomGenerator(seed: 1)
        let model = try Sequential(inputShape: [4, 11, 11], layers: [
            Conv2d(4, 4, kernelSize: 3, padding: Conv2d.samePadding, groups: 4, generator: &g),
            Conv2d(4, 6, kernelSize: 3, padding: 2, dilation: 2, generator: &g),
            MaxPool2d(kernelSize: 3, stride: 2, padding: 1, ceilMode: true),
            AvgPool2d(kernelSize: 2, padding: 1, ceilMode: true, countIncludePad: false),
            BatchNorm2d(6, affine: false, trackRunningStats: false),
            AdaptiveAvgPool2d(outHeight: 2, outWidth: 3), Flatten(), BatchNorm1d(36, affine: false),
        ])
        let twin = try Sequential(architecture: model.architecture)
        XCTAssertEqual(twin.architecture, model.architecture)
        XCTAssertEqual(twin.layerSummaries.map(\.summary), model.layerSummaries.map(\.summary))
        XCTAssertEqual(model.namedParameters.map(\.name), ["0.weight", "0.bias", "1.weight", "1.bias"])
        XCTAssertEqual(model.namedBuffers.map(\.name), ["7.running_mean", "7.running_var", "7.num_batches_tracked"])
        XCTAssertEqual(model.layers[0].parameters[0].value.shape, [4, 1, 3, 3])
        // Specs written before these options existed load with the defaults.
        let old = try layer(from: .object([("kind", .string("conv2d")), ("in", .number(2)), ("out", .number(3)),
                                           ("kernel", .number(3)), ("stride", .number(1)), ("padding", .number(1))]),
                            inputShape: [2, 5, 5])
        XCTAssertEqual((old as? Conv2d)?.dilation, 1)
        XCTAssertEqual((old as? Conv2d)?.groups, 1)
        let pool = try layer(from: .object([("kind", .string("avgpool2d")), ("kernel", .number(2)), ("stride", .number(2))]),
                             inputShape: [1, 4, 4])
        XCTAssertEqual((pool as? AvgPool2d)?.countIncludePad, true)
        let bn = try layer(from: .object([("kind", .string("batchnorm2d")), ("channels", .number(2)),
                                          ("momentum", .number(0.1)), ("eps", .number(1e-5))]), inputShape: [2, 3, 3])
        XCTAssertEqual(bn.parameters.count, 2)
        XCTAssertEqual(bn.buffers.count, 3)
    }

    func testPaddedPoolingGradientsAndShapes() throws {
        try checkGradients(MaxPool2d(kernelSize: 3, stride: 2, padding: 1, ceilMode: true), inputShape: [2, 3, 6, 7],
                           distinct: true)
        try checkGradients(MaxPool2d(kernelSize: 2, ceilMode: true), inputShape: [2, 2, 5, 5], distinct: true)
        try checkGradients(AvgPool2d(kernelSize: 3, stride: 2, padding: 1, ceilMode: true), inputShape: [2, 3, 6, 7])
        try checkGradients(AvgPool2d(kernelSize: 3, stride: 2, padding: 1, countIncludePad: false), inputShape: [2, 2, 5, 6])
        XCTAssertEqual(try MaxPool2d(kernelSize: 2, ceilMode: true).outputShape(for: [1, 5, 4]), [1, 3, 2])
        XCTAssertEqual(try MaxPool2d(kernelSize: 3, stride: 2, padding: 1).outputShape(for: [1, 7, 6]), [1, 4, 3])
        // ceil mode drops a last window that would start in the right padding: (5 + 2 − 2)/2 ⌈⌉ + 1 = 4 → 3.
        XCTAssertEqual(try AvgPool2d(kernelSize: 2, stride: 2, padding: 1, ceilMode: true).outputShape(for: [1, 5, 5]),
                       [1, 3, 3])
    }

    func testPaddedPoolingHandComputed() throws {
        let x = try Tensor(shape: [1, 1, 3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let context = ExecutionContext(training: false)
        // 2×2 windows, stride 2, padding 1: corners alone, edges in pairs, the centre block.
        XCTAssertEqual(try MaxPool2d(kernelSize: 2, padding: 1).forward(x, context: context).values, [1, 3, 7, 9])
        XCTAssertEqual(try AvgPool2d(kernelSize: 2, padding: 1).forward(x, context: context).values,
                       [0.25, 1.25, 2.75, 7])
        XCTAssertEqual(try AvgPool2d(kernelSize: 2, padding: 1, countIncludePad: false).forward(x, context: context).values,
                       [1, 2.5, 5.5, 7])
        // ceil mode: a 2×2 window over the last row and column is clipped to one pixel.
        XCTAssertEqual(try AvgPool2d(kernelSize: 2, ceilMode: true).forward(x, context: context).values,
                       [3, 4.5, 7.5, 9])
    }

    func testAdaptiveAvgPool() throws {
        try checkGradients(AdaptiveAvgPool2d(outHeight: 3, outWidth: 2), inputShape: [2, 3, 7, 5])
        try checkGradients(AdaptiveAvgPool2d(outHeight: 4, outWidth: 4), inputShape: [1, 2, 3, 3])
        let x = try Tensor(shape: [1, 1, 3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let y = try AdaptiveAvgPool2d(outHeight: 2, outWidth: 2).forward(x, context: ExecutionContext(training: false))
        XCTAssertEqual(y.values, [3, 4, 6, 7])  // windows rows 0..<2 / 1..<3, columns alike
        XCTAssertThrowsError(try AdaptiveAvgPool2d(outHeight: 0, outWidth: 2))
        XCTAssertThrowsError(try Sequential(inputShape: [4], layers: [AdaptiveAvgPool2d(outHeight: 1, outWidth: 1)]))
    }

    func testBatchNormOptionsGradients() throws {
        try checkGradients(BatchNorm2d(3, affine: false), inputShape: [4, 3, 3, 5], training: true)
        try checkGradients(BatchNorm2d(3, trackRunningStats: false), inputShape: [4, 3, 3, 5], training: false)
        try checkGradients(BatchNorm1d(5, affine: false, trackRunningStats: false), inputShape: [6, 5], training: false)
        try checkGradients(BatchNorm1d(5, affine: false), inputShape: [6, 5], training: true)
        // Without running statistics, eval mode normalises with the batch and leaves no state behind.
        let bn = try BatchNorm1d(2, trackRunningStats: false)
        let x = try Tensor(shape: [2, 2], values: [1, 10, 3, 30])
        let y = bn.forward(x, context: ExecutionContext(training: false))
        for (a, b) in zip(y.values, [-1, -1, 1, 1] as [Float]) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertEqual(bn.runningMean.values, [0, 0])
        XCTAssertEqual(bn.batchesTracked[0], 0)
        XCTAssertTrue(bn.buffers.isEmpty)
        XCTAssertTrue(try BatchNorm2d(2, affine: false).parameters.isEmpty)
    }

    /// As PyTorch: a batch of one is refused by BatchNorm1d in training mode, accepted by
    /// BatchNorm2d when H·W > 1, refused by BatchNorm2d on 1×1 maps.
    func testBatchOfOneThroughBatchNorm() throws {
        let x = randomTensor([1, 2, 3, 3], seed: 2)
        let planes = try Sequential(inputShape: [2, 3, 3], layers: [BatchNorm2d(2)])
        XCTAssertEqual(try planes.forward(x).shape, [1, 2, 3, 3])
        let dots = try Sequential(inputShape: [2, 3, 3], layers: [MaxPool2d(kernelSize: 3), BatchNorm2d(2)])
        XCTAssertThrowsError(try dots.forward(x)) { error in
            guard case SmallNetError.invalidArgument = error else { return XCTFail("\(error)") }
        }
        dots.isTraining = false
        XCTAssertNoThrow(try dots.forward(x))
        let flat = try Sequential(inputShape: [2, 3, 3], layers: [Flatten(), BatchNorm1d(18)])
        XCTAssertThrowsError(try flat.forward(x))
        flat.isTraining = false
        XCTAssertNoThrow(try flat.forward(x))
        let untracked = try Sequential(inputShape: [2, 3, 3], layers: [Flatten(), BatchNorm1d(18, trackRunningStats: false)])
        untracked.isTraining = false
        XCTAssertThrowsError(try untracked.forward(x))
    }

    func testBadOptionsThrow() {
        var g = RandomGenerator(seed: 0)
        XCTAssertThrowsError(try Conv2d(4, 6, kernelSize: 3, groups: 4, generator: &g))  // 6 % 4 ≠ 0
        XCTAssertThrowsError(try Conv2d(4, 4, kernelSize: 3, groups: 0, generator: &g))
        XCTAssertThrowsError(try Conv2d(4, 4, kernelSize: 3, dilation: 0, generator: &g))
        XCTAssertThrowsError(try Conv2d(4, 4, kernelSize: 3, dilation: 16, generator: &g))
        XCTAssertThrowsError(try Conv2d(4, 4, kernelSize: 3, stride: 2, padding: Conv2d.samePadding, generator: &g))
        XCTAssertThrowsError(try Conv2d(4, 4, kernelSize: 2, padding: Conv2d.samePadding, generator: &g))
        XCTAssertThrowsError(try Conv2d(4, 4, kernelSize: 3, padding: -2, generator: &g))
        XCTAssertThrowsError(try Conv2d(4, 4, kernelSize: 3, padding: 5, dilation: 2, generator: &g))
        XCTAssertNoThrow(try Conv2d(4, 4, kernelSize: 3, padding: 4, dilation: 2, generator: &g))
        XCTAssertThrowsError(try MaxPool2d(kernelSize: 3, padding: 2))
        XCTAssertThrowsError(try AvgPool2d(kernelSize: 2, padding: -1))
        XCTAssertThrowsError(try Sequential(inputShape: [1, 3, 3], layers: [Conv2d(1, 1, kernelSize: 3, dilation: 2, generator: &g)]))
    }
}
