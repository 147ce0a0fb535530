// Layers: finite-difference gradient checks and small hand-computed cases.
import XCTest
@testable import SmallNet

final class LayerTests: XCTestCase {
    func testLinearGradients() throws {
        var g = RandomGenerator(seed: 3)
        try checkGradients(Linear(37, 19, generator: &g), inputShape: [5, 37])
        try checkGradients(Linear(7, 40, generator: &g), inputShape: [9, 7])   // partial GEMM tiles
        try checkGradients(Linear(300, 33, bias: false, generator: &g), inputShape: [3, 300]) // K > one block
    }

    func testLinearHandComputed() throws {
        var g = RandomGenerator(seed: 0)
        let layer = try Linear(2, 2, generator: &g)
        layer.weight.value.data.update(from: [1, 2, 3, 4], count: 4)
        layer.bias!.value.data.update(from: [0.5, -1], count: 2)
        let x = try Tensor(shape: [1, 2], values: [1, -1])
        let y = layer.forward(x, context: ExecutionContext(training: false))
        XCTAssertEqual(y.values, [1 - 2 + 0.5, 3 - 4 - 1])
    }

    /// A batch of up to `Linear.fewSamples` goes forward by row dot products, larger ones by the
    /// GEMM: both agree with a Double reference, and each sample's outputs do not depend on
    /// which way its batch went beyond rounding.
    func testLinearFewSamplesAgreeWithTheBatchedForward() throws {
        var g = RandomGenerator(seed: 4)
        for (inFeatures, outFeatures) in [(784, 117), (33, 7), (5, 3)] {
            let layer = try Linear(inFeatures, outFeatures, generator: &g)
            for i in 0..<outFeatures { layer.bias!.value.data[i] = Float(i) * 0.1 - 0.2 }
            let batch = randomTensor([64, inFeatures], seed: 2)
            let batched = layer.forward(batch, context: ExecutionContext(training: false)).values
            for n in 1...(Linear.fewSamples + 1) {
                let few = try Tensor(shape: [n, inFeatures], values: Array(batch.values[0..<(n * inFeatures)]))
                let y = layer.forward(few, context: ExecutionContext(training: false)).values
                for i in 0..<(n * outFeatures) {
                    let row = i / outFeatures, o = i % outFeatures
                    var exact = Double(layer.bias!.value.data[o])
                    for k in 0..<inFeatures {
                        exact += Double(batch.values[row * inFeatures + k]) * Double(layer.weight.value.data[o * inFeatures + k])
                    }
                    XCTAssertEqual(Double(y[i]), exact, accuracy: 1e-5 * Swift.max(1, abs(exact)), "\(n) samples, output \(i)")
                    XCTAssertEqual(y[i], batched[i], accuracy: 1e-5 * Swift.max(1, abs(batched[i])), "\(n) samples, output \(i)")
                }
            }
        }
    }

    func testReLUGradientsAndValues() throws {
        try checkGradients(ReLU(), inputShape: [4, 33], awayFromZero: true)
        let y = ReLU().forward(try Tensor(shape: [1, 3], values: [-1, 0, 2]), context: ExecutionContext(training: true))
        XCTAssertEqual(y.values, [0, 0, 2])
        // NaN propagates, in the vector body and the scalar tail alike.
        let values: [Float] = (0..<20).map { $0 == 3 || $0 == 18 ? .nan : Float($0 % 3) - 1 }
        let z = ReLU().forward(try Tensor(shape: [1, 20], values: values), context: ExecutionContext(training: false))
        XCTAssertTrue(z.values[3].isNaN && z.values[18].isNaN)
        XCTAssertEqual(z.values.enumerated().filter { !$0.element.isNaN }.map(\.element),
                       values.enumerated().filter { !$0.element.isNaN }.map { Swift.max($0.element, 0) })
    }

    func testDropoutGradientsAndScaling() throws {
        try checkGradients(Dropout(p: 0.3), inputShape: [6, 20])
        let layer = try Dropout(p: 0.5)
        let x = try Tensor(shape: [1, 1000], values: [Float](repeating: 1, count: 1000))
        let y = layer.forward(x, context: ExecutionContext(training: true, generator: RandomGenerator(seed: 5)))
        let kept = y.values.filter { $0 != 0 }
        XCTAssertTrue(kept.allSatisfy { $0 == 2 }, "kept values are scaled by 1/(1-p)")
        XCTAssertEqual(Double(kept.count), 500, accuracy: 60)
        let eval = layer.forward(x, context: ExecutionContext(training: false))
        XCTAssertEqual(eval.values, x.values, "eval mode is the identity")
        XCTAssertThrowsError(try Dropout(p: 1))
        XCTAssertThrowsError(try Dropout(p: -0.1))
    }

    func testBatchNorm1dGradientsTrainingAndEval() throws {
        let bn = try BatchNorm1d(13)
        var g = RandomGenerator(seed: 8)
        for i in 0..<13 { bn.weight.value.data[i] = 1 + 0.3 * g.nextNormal(); bn.bias.value.data[i] = 0.2 * g.nextNormal() }
        try checkGradients(bn, inputShape: [8, 13], training: true)
        try checkGradients(bn, inputShape: [8, 13], training: false)
    }

    /// A batch large enough to be normalised over the pool: the same outputs and running
    /// statistics as on one thread, in training and eval.
    func testBatchNorm1dOverThreadsMatchesOneThread() throws {
        let n = 301, f = 67
        XCTAssertGreaterThanOrEqual(n * f, valuesWorthThreads)
        let x = randomTensor([n, f], seed: 4)
        func run(_ pool: ThreadPool?) throws -> [[Float]] {
            let bn = try BatchNorm1d(f)
            var g = RandomGenerator(seed: 8)
            for i in 0..<f { bn.weight.value.data[i] = 1 + 0.3 * g.nextNormal(); bn.bias.value.data[i] = 0.2 * g.nextNormal() }
            let trained = bn.forward(x, context: ExecutionContext(training: true, pool: pool)).values
            let evaluated = bn.forward(x, context: ExecutionContext(training: false, pool: pool)).values
            return [trained, evaluated, bn.runningMean.values, bn.runningVar.values]
        }
        XCTAssertEqual(try run(nil), try run(ThreadPool(threads: 2)))
    }

    func testBatchNorm1dStatistics() throws {
        let bn = try BatchNorm1d(1)
        let x = try Tensor(shape: [4, 1], values: [1, 2, 3, 4])
        let y = bn.forward(x, context: ExecutionContext(training: true))
        // mean 2.5, biased var 1.25
        let expected = [1, 2, 3, 4].map { Float(($0 - 2.5) / (1.25 + 1e-5).squareRoot()) }
        for (a, b) in zip(y.values, expected) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(bn.runningMean[0], 0.25, accuracy: 1e-6)           // 0.9·0 + 0.1·2.5
        XCTAssertEqual(bn.runningVar[0], 0.9 + 0.1 * (5.0 / 3.0), accuracy: 1e-6) // unbiased var 5/3
        XCTAssertEqual(bn.batchesTracked[0], 1)
    }

    func testFlattenKeepsDataAndRestoresShape() throws {
        let f = Flatten()
        let x = randomTensor([2, 3, 4, 5], seed: 1)
        let y = f.forward(x, context: ExecutionContext(training: true))
        XCTAssertEqual(y.shape, [2, 60])
        XCTAssertEqual(y.values, x.values)
        let dx = f.backward(y, needInputGradient: true, context: ExecutionContext(training: true))!
        XCTAssertEqual(dx.shape, [2, 3, 4, 5])
        XCTAssertEqual(dx.values, x.values)

        // A view, not a copy: it follows its source each pass, also after the source grew.
        XCTAssertEqual(y.data, x.data)
        let larger = randomTensor([3, 3, 4, 5], seed: 2)
        let z = f.forward(larger, context: ExecutionContext(training: true))
        XCTAssertEqual(z.shape, [3, 60])
        XCTAssertEqual(z.values, larger.values)
    }

    func testTensorViewDetachesOnResize() throws {
        let source = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let view = try Tensor(shape: [1])
        view.view(of: source, shape: [6])
        XCTAssertEqual(view.values, [1, 2, 3, 4, 5, 6])
        view.data[0] = 10
        XCTAssertEqual(source.values[0], 10, "a view writes its source's elements")
        view.resize([6])
        view.data[1] = 20
        XCTAssertEqual(source.values, [10, 2, 3, 4, 5, 6], "after a resize the view has storage of its own")
    }

    func testSequentialNamesShapesAndErrors() throws {
        var g = RandomGenerator(seed: 1)
        let model = try FCN.build(inputShape: [1, 4, 4], classes: 3, hidden: [5], dropout: 0.1, batchNorm: true, generator: &g)
        XCTAssertEqual(model.namedParameters.map(\.name), ["1.weight", "1.bias", "2.weight", "2.bias", "5.weight", "5.bias"])
        XCTAssertEqual(model.namedBuffers.map(\.name), ["2.running_mean", "2.running_var", "2.num_batches_tracked"])
        XCTAssertEqual(model.parameterCount, 16 * 5 + 5 + 10 + 5 * 3 + 3)
        XCTAssertEqual(model.outputShape, [3])
        XCTAssertThrowsError(try model.forward(randomTensor([2, 1, 4, 5], seed: 1))) { error in
            guard case SmallNetError.shapeMismatch = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try model.backward(randomTensor([2, 3], seed: 1))) { error in
            XCTAssertEqual(error as? SmallNetError, .badState("backward needs a forward pass on the same batch first"))
        }
        XCTAssertThrowsError(try model.forward(randomTensor([1, 1, 4, 4], seed: 1)),
                             "BatchNorm refuses a training batch of one")
        XCTAssertThrowsError(try model.append(Linear(7, 2, generator: &g)), "7 inputs do not follow 3 outputs")
    }

    func testSequentialBackwardMatchesFiniteDifferences() throws {
        var g = RandomGenerator(seed: 4)
        let model = try FCN.build(inputShape: [1, 3, 3], classes: 4, hidden: [6, 5], batchNorm: true, generator: &g)
        try checkModelGradients(model, input: randomTensor([5, 1, 3, 3], seed: 2), labels: [0, 1, 2, 3, 1],
                                step: 1e-2, stride: 3, relative: 2e-2, absolute: 2e-3)
    }
}
