// The fused plan steps (BatchNorm2d → ReLU → MaxPool2d, a first convolution with its block,
// BatchNorm2d → ReLU, Linear → BatchNorm1d → ReLU) against their layers run one by one.
import XCTest
@testable import SmallNet

final class FusedStepTests: XCTestCase {
    /// conv → BN2d → ReLU → pool(2) twice, then a linear head; odd sizes leave a row and a column
    /// no pooling window covers. With one input channel and no bias, the first convolution and
    /// block run as a `ConvolutionBlock`.
    private func model(height: Int, width: Int, affine: Bool = true, trackRunningStats: Bool = true,
                       channels: Int = 2, bias: Bool = true) throws -> Sequential {
        var g = RandomGenerator(seed: 5)
        let model = try Sequential(inputShape: [channels, height, width])
        try model.append(Conv2d(channels, 3, kernelSize: 3, padding: 1, bias: bias, generator: &g))
        try model.append(BatchNorm2d(3, affine: affine, trackRunningStats: trackRunningStats))
        try model.append(ReLU())
        try model.append(MaxPool2d(kernelSize: 2))
        try model.append(Conv2d(3, 4, kernelSize: 3, padding: 1, generator: &g))
        try model.append(BatchNorm2d(4))
        try model.append(ReLU())
        try model.append(MaxPool2d(kernelSize: 2))
        try model.append(Flatten())
        try model.append(Linear(4 * (height / 4) * (width / 4), 3, generator: &g))
        // γ and β away from 1 and 0, one γ negative, so that the normalisation is not the identity.
        if affine {
            let norm = model.layers[1] as! BatchNorm2d
            norm.weight.value.data[0] = -0.7
            norm.weight.value.data[1] = 1.3
            norm.bias.value.data[2] = 0.4
        }
        return model
    }

    func testThePlanFusesOnlyBatchNorm2dReLUAndAPlainTwoByTwoPoolOnLargeEnoughPlanes() throws {
        let fused = try model(height: 28, width: 28)
        XCTAssertEqual(fused.plan.map(\.layers), [0..<1, 1..<4, 4..<5, 5..<8, 8..<9, 9..<10])
        XCTAssertEqual(fused.plan[1].summary, "BatchNorm2d(3) → ReLU → MaxPool2d(2)")
        fused.fusesLayers = false
        XCTAssertEqual(fused.plan.count, fused.layers.count)
        // 12×12 planes and larger: the second block (6×6) runs BatchNorm2d → ReLU as one step, then
        // its pool.
        let small = try model(height: 12, width: 12)
        XCTAssertEqual(small.plan.map(\.layers.count), [1, 3, 1, 2, 1, 1, 1])
        XCTAssertTrue(small.plan[3] is BatchNormReLU)
        XCTAssertEqual(small.plan[3].summary, "BatchNorm2d(4) → ReLU")
        XCTAssertEqual(try model(height: 12, width: 11).plan.map(\.layers.count), [1, 2, 1, 1, 2, 1, 1, 1])

        var g = RandomGenerator(seed: 1)
        for pool in [try MaxPool2d(kernelSize: 3), try MaxPool2d(kernelSize: 2, stride: 1), try MaxPool2d(kernelSize: 2, padding: 1),
                     try MaxPool2d(kernelSize: 2, ceilMode: true)] {
            let other = try Sequential(inputShape: [1, 18, 18], layers: [Conv2d(1, 2, kernelSize: 3, generator: &g), BatchNorm2d(2),
                                                                        ReLU(), pool])
            XCTAssertEqual(other.plan.map(\.layers), [0..<1, 1..<3, 3..<4], pool.summary)
        }
        // One input channel, no bias: the first convolution joins the block after it.
        let first = try model(height: 28, width: 28, channels: 1, bias: false)
        XCTAssertEqual(first.plan.map(\.layers), [0..<4, 4..<5, 5..<8, 8..<9, 9..<10])
        XCTAssertTrue(first.plan[0] is ConvolutionBlock)
        XCTAssertEqual(first.plan[0].summary, "Conv2d(1 → 3, 3×3, pad 1, no bias) → BatchNorm2d(3) → ReLU → MaxPool2d(2)")
        XCTAssertEqual(try model(height: 28, width: 28, channels: 1).plan.map(\.layers), [0..<1, 1..<4, 4..<5, 5..<8, 8..<9, 9..<10])
        let strided = try Sequential(inputShape: [1, 28, 28], layers: [Conv2d(1, 2, kernelSize: 3, stride: 2, padding: 1, generator: &g),
                                                                     BatchNorm2d(2), ReLU(), MaxPool2d(kernelSize: 2)])
        XCTAssertEqual(strided.plan.map(\.layers), [0..<1, 1..<4])
        let flat = try Sequential(inputShape: [6], layers: [BatchNorm1d(6), ReLU()])
        XCTAssertEqual(flat.plan.count, 2)
        let reordered = try Sequential(inputShape: [1, 18, 18], layers: [Conv2d(1, 2, kernelSize: 3, generator: &g), ReLU(),
                                                                       BatchNorm2d(2), MaxPool2d(kernelSize: 2)])
        XCTAssertEqual(reordered.plan.count, 4)
    }

    /// Forward outputs, every gradient, the running statistics and the weights after a few
    /// optimizer steps, fused and unfused: equal bit for bit, in training and eval mode. The
    /// pooled rows are 6 and 7 windows wide (one vector of 8 reaching into the rows below, the
    /// last row two overlapping vectors of 4), 10 and 14 (two overlapping vectors of 8) and 3
    /// (window by window); odd heights and widths leave a row or column out of every window.
    /// The second block's planes below 12×12 run as `BatchNormReLU` and a pool.
    func testFusedStepsGiveTheUnfusedNumbersBitForBit() throws {
        for (h, w, threads) in [(12, 12, 1), (13, 12, 2), (12, 13, 1), (14, 14, 2), (24, 7, 1), (16, 20, 2), (28, 28, 2)] {
            for (affine, track, channels) in [(true, true, 2), (false, true, 2), (true, false, 2), (true, true, 1)] {
                let fused = try model(height: h, width: w, affine: affine, trackRunningStats: track, channels: channels)
                let unfused = try fused.copy()
                unfused.fusesLayers = false
                XCTAssertTrue(fused.plan.contains { $0 is BatchNormReLUMaxPool })
                let pool = threads > 1 ? ThreadPool(threads: threads) : nil
                let what = "\(h)×\(w), affine \(affine), running stats \(track), \(channels) channels, \(threads) threads"
                let labels: [Int32] = [0, 2, 1, 1, 0]
                let optimizers = try [fused, unfused].map { try Adam(parameters: $0.parameters, learningRate: 0.01) }
                for step in 0..<4 {
                    let x = randomTensor([5, channels, h, w], seed: UInt64(10 + step))
                    var outputs: [[Float]] = [], grads: [[[Float]]] = []
                    for (model, optimizer) in zip([fused, unfused], optimizers) {
                        model.zeroGrad()
                        let logits = try model.forward(x, pool: pool)
                        outputs.append(logits.values)
                        let d = try Tensor(shape: logits.shape)
                        _ = try labels.withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0, dLogits: d) }
                        try model.backward(d, pool: pool)
                        grads.append(model.parameters.map(\.grad.values))
                        optimizer.step(pool: pool)
                    }
                    XCTAssertEqual(outputs[0], outputs[1], "\(what): logits, step \(step)")
                    XCTAssertEqual(grads[0], grads[1], "\(what): gradients, step \(step)")
                }
                XCTAssertEqual(fused.namedBuffers.map(\.tensor.values), unfused.namedBuffers.map(\.tensor.values), what)
                XCTAssertEqual(fused.parameters.map(\.value.values), unfused.parameters.map(\.value.values), what)
                fused.isTraining = false
                unfused.isTraining = false
                let x = randomTensor([3, channels, h, w], seed: 77)
                XCTAssertEqual(try fused.forward(x, pool: pool).values, try unfused.forward(x, pool: pool).values, "\(what): eval")
            }
        }
    }

    /// A `ConvolutionBlock` against the layers run one by one, in training (4 SGD steps: logits,
    /// every gradient, the running statistics and the weights) and eval mode: equal up to the
    /// order of the sums (the BatchNorm's statistics from the taps' moments, the weight gradient
    /// from three sums); bit for bit in eval mode with running statistics, and the same numbers on
    /// one thread and two. Odd sizes leave a row and a column outside every window. (SGD rather
    /// than Adam: the second convolution's bias, before a BatchNorm, has a gradient that is 0 but
    /// for rounding, which Adam scales up to steps of its learning rate.)
    func testTheConvolutionBlockGivesTheUnfusedNumbers() throws {
        var largest: Float = 0
        for (h, w) in [(12, 12), (13, 12), (16, 20), (28, 28), (9, 31)] {
            for (affine, track) in [(true, true), (false, true), (true, false)] {
                let fused = try model(height: h, width: w, affine: affine, trackRunningStats: track, channels: 1, bias: false)
                XCTAssertTrue(fused.plan[0] is ConvolutionBlock)
                let unfused = try fused.copy(), threaded = try fused.copy()
                unfused.fusesLayers = false
                let pool = ThreadPool(threads: 2)
                let what = "\(h)×\(w), affine \(affine), running stats \(track)"
                let labels: [Int32] = [0, 2, 1, 1, 0]
                let models = [fused, unfused, threaded]
                let optimizers = try models.map { try SGD(parameters: $0.parameters, learningRate: 0.05, momentum: 0.9) }
                for step in 0..<4 {
                    let x = randomTensor([5, 1, h, w], seed: UInt64(10 + step))
                    var outputs: [[Float]] = [], grads: [[Float]] = []
                    for (i, (model, optimizer)) in zip(models, optimizers).enumerated() {
                        model.zeroGrad()
                        let logits = try model.forward(x, pool: i == 2 ? pool : nil)
                        outputs.append(logits.values)
                        let d = try Tensor(shape: logits.shape)
                        _ = try labels.withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0, dLogits: d) }
                        try model.backward(d, pool: i == 2 ? pool : nil)
                        grads.append(model.parameters.flatMap(\.grad.values))
                        optimizer.step(pool: nil)
                    }
                    XCTAssertEqual(outputs[0], outputs[2], "\(what): logits on two threads, step \(step)")
                    XCTAssertEqual(grads[0], grads[2], "\(what): gradients on two threads, step \(step)")
                        largest = Swift.max(largest, relativeDifference(outputs[0], outputs[1]), relativeDifference(grads[0], grads[1]))
                    assertClose(outputs[0], outputs[1], 1e-5, "\(what): logits, step \(step)")
                    assertClose(grads[0], grads[1], 1e-5, "\(what): gradients, step \(step)")
                }
                assertClose(fused.namedBuffers.flatMap(\.tensor.values), unfused.namedBuffers.flatMap(\.tensor.values), 1e-5, what)
                assertClose(fused.parameters.flatMap(\.value.values), unfused.parameters.flatMap(\.value.values), 1e-5, what)
                for model in [fused, unfused] { model.isTraining = false }
                // Eval mode from the same weights and statistics: with running statistics, the
                // unfused numbers bit for bit; without, the batch's statistics from the moments.
                let reference = try fused.copy()
                reference.fusesLayers = false
                reference.isTraining = false
                let x = randomTensor([3, 1, h, w], seed: 77)
                let (evaluated, expected) = (try fused.forward(x).values, try reference.forward(x).values)
                if track { XCTAssertEqual(evaluated, expected, "\(what): eval") } else { assertClose(evaluated, expected, 1e-5, "\(what): eval") }
            }
        }
        print("ConvolutionBlock against the unfused layers: largest difference \(largest) of the largest value")
    }

    /// max |a − b| / max |b|.
    private func relativeDifference(_ a: [Float], _ b: [Float]) -> Float {
        let scale = Swift.max(b.map(abs).max() ?? 0, 1e-30)
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }

    private func assertClose(_ a: [Float], _ b: [Float], _ tolerance: Float, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        XCTAssertLessThan(relativeDifference(a, b), tolerance, what, file: file, line: line)
    }

    /// A first-block convolution after another layer (its input gradient is needed), or with a
    /// bias, runs as its own step before the fused block.
    func testOnlyABiasFreeFirstConvolutionJoinsItsBlock() throws {
        var g = RandomGenerator(seed: 3)
        let inside = try Sequential(inputShape: [2, 16, 16], layers: [
            Conv2d(2, 1, kernelSize: 3, padding: 1, generator: &g), Conv2d(1, 3, kernelSize: 3, padding: 1, bias: false, generator: &g),
            BatchNorm2d(3), ReLU(), MaxPool2d(kernelSize: 2), Flatten(), Linear(3 * 8 * 8, 4, generator: &g)])
        XCTAssertEqual(inside.plan.map(\.layers), [0..<1, 1..<2, 2..<5, 5..<6, 6..<7])
        let afterFlatten = try Sequential(inputShape: [1, 16, 16], layers: [
            Dropout(p: 0.1), Conv2d(1, 3, kernelSize: 3, padding: 1, bias: false, generator: &g),
            BatchNorm2d(3), ReLU(), MaxPool2d(kernelSize: 2)])
        XCTAssertTrue(afterFlatten.plan.contains { $0 is ConvolutionBlock }, "no parameters before it")
        let fiveByFive = try Sequential(inputShape: [1, 16, 16], layers: [
            Conv2d(1, 3, kernelSize: 5, padding: 2, bias: false, generator: &g), BatchNorm2d(3), ReLU(), MaxPool2d(kernelSize: 2)])
        XCTAssertFalse(fiveByFive.plan.contains { $0 is ConvolutionBlock })
    }

    func testFusedModelGradientsMatchFiniteDifferences() throws {
        var g = RandomGenerator(seed: 9)
        let model = try CNN.build(inputShape: [1, 12, 12], classes: 3, channels: [3, 4], head: .linear, dropout: 0, generator: &g)
        XCTAssertTrue(model.plan.contains { $0 is ConvolutionBlock })
        try checkModelGradients(model, input: randomTensor([4, 1, 12, 12], seed: 4), labels: [0, 1, 2, 1],
                                step: 1e-3, stride: 5, relative: 3e-2, absolute: 3e-3)
    }

    /// Switching the plan between a forward and its backward is refused, not mixed.
    func testChangingThePlanNeedsANewForward() throws {
        let model = try model(height: 12, width: 12)
        let logits = try model.forward(randomTensor([2, 2, 12, 12], seed: 3))
        model.fusesLayers = false
        XCTAssertThrowsError(try model.backward(try Tensor(shape: logits.shape)))
    }

    /// Linear → BatchNorm1d → ReLU twice (sizes with partial tiles and panels, one of at most
    /// 8 columns; 300 inputs: two K blocks), dropout between, then a linear head.
    private func fcn(inputs: Int = 300, hidden: [Int] = [37, 21], affine: Bool = true, trackRunningStats: Bool = true)
        throws -> Sequential {
        var g = RandomGenerator(seed: 6)
        let model = try Sequential(inputShape: [inputs])
        var width = inputs
        for h in hidden {
            try model.append(Linear(width, h, generator: &g))
            try model.append(BatchNorm1d(h, affine: affine, trackRunningStats: trackRunningStats))
            try model.append(ReLU())
            try model.append(Dropout(p: 0.2))
            width = h
        }
        try model.append(Linear(width, 3, generator: &g))
        return model
    }

    func testThePlanRunsLinearBatchNorm1dReLUAsOneStep() throws {
        let model = try fcn()
        XCTAssertEqual(model.plan.map(\.layers), [0..<3, 3..<4, 4..<7, 7..<8, 8..<9])
        XCTAssertEqual(model.plan[0].summary, "Linear(300 → 37) → BatchNorm1d(37) → ReLU")
        XCTAssertTrue(model.plan[2] is LinearBatchNormReLU)
        var g = RandomGenerator(seed: 2)
        let reordered = try Sequential(inputShape: [5], layers: [Linear(5, 4, generator: &g), ReLU(), BatchNorm1d(4)])
        XCTAssertEqual(reordered.plan.count, 3)
        model.fusesLayers = false
        XCTAssertEqual(model.plan.count, model.layers.count)
    }

    /// Training steps then eval passes, fused and unfused: the same logits, gradients, running
    /// statistics and weights, bit for bit. Eval batches of 5 and fewer take the Linear's other
    /// products (and so run layer by layer); larger ones one product with the epilogue. A
    /// backward after a fused eval forward gives the unfused gradients.
    func testLinearBatchNormReLUGivesTheUnfusedNumbersBitForBit() throws {
        for (affine, track, threads) in [(true, true, 1), (true, true, 2), (false, true, 2), (true, false, 1)] {
            let fused = try fcn(affine: affine, trackRunningStats: track)
            let unfused = try fused.copy()
            unfused.fusesLayers = false
            let pool = threads > 1 ? ThreadPool(threads: threads) : nil
            let what = "affine \(affine), running stats \(track), \(threads) threads"
            let optimizers = try [fused, unfused].map { try SGD(parameters: $0.parameters, learningRate: 0.05, momentum: 0.9) }
            func pass(_ model: Sequential, _ x: Tensor, _ labels: [Int32]) throws -> ([Float], [[Float]]) {
                model.zeroGrad()
                let logits = try model.forward(x, pool: pool)
                let values = logits.values
                let d = try Tensor(shape: logits.shape)
                _ = try labels.withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0, dLogits: d) }
                try model.backward(d, pool: pool)
                return (values, model.parameters.map(\.grad.values))
            }
            for step in 0..<3 {
                let x = randomTensor([40, 300], seed: UInt64(20 + step))
                let labels = (0..<40).map { Int32(($0 * 7 + step) % 3) }
                let results = try [fused, unfused].map { try pass($0, x, labels) }
                XCTAssertEqual(results[0].0, results[1].0, "\(what): logits, step \(step)")
                XCTAssertEqual(results[0].1, results[1].1, "\(what): gradients, step \(step)")
                for optimizer in optimizers { optimizer.step(pool: pool) }
            }
            XCTAssertEqual(fused.namedBuffers.map(\.tensor.values), unfused.namedBuffers.map(\.tensor.values), what)
            fused.isTraining = false
            unfused.isTraining = false
            for n in [2, 5, 6, 33, 300] {
                let x = randomTensor([n, 300], seed: UInt64(n))
                XCTAssertEqual(try fused.forward(x, pool: pool).values, try unfused.forward(x, pool: pool).values,
                               "\(what): eval, batch \(n)")
            }
            let x = randomTensor([64, 300], seed: 5), labels = (0..<64).map { Int32($0 % 3) }
            let results = try [fused, unfused].map { try pass($0, x, labels) }
            XCTAssertEqual(results[0].0, results[1].0, "\(what): eval logits")
            XCTAssertEqual(results[0].1, results[1].1, "\(what): gradients after an eval forward")
            XCTAssertEqual(fused.namedBuffers.map(\.tensor.values), unfused.namedBuffers.map(\.tensor.values), what)
        }
    }

    func testTheProfileHasOneRowPerStep() throws {
        let model = try model(height: 28, width: 28)
        let profile = try Profiler.profile(model: model, batchSize: 4, pool: nil, seconds: 0) {
            try SGD(parameters: $0.parameters, learningRate: 0.01)
        }
        XCTAssertEqual(profile.layers.map(\.index), [0, 1, 4, 5, 8, 9])
        XCTAssertEqual(profile.layers.map(\.layerCount), [1, 3, 1, 3, 1, 1])
        XCTAssertEqual(profile.layers[1].summary, "BatchNorm2d(3) → ReLU → MaxPool2d(2)")
        model.fusesLayers = false
        let unfused = try Profiler.profile(model: model, batchSize: 4, pool: nil, seconds: 0) {
            try SGD(parameters: $0.parameters, learningRate: 0.01)
        }
        XCTAssertEqual(unfused.layers.count, 10)
    }
}
