// The profiler: one entry per step of the execution plan (per layer when unfused), FLOPs as the
// layers count them, the model left as it was.
import XCTest
@testable import SmallNet

final class ProfilerTests: XCTestCase {
    func testProfileCoversEveryLayerAndLeavesTheModelUnchanged() throws {
        let recipe = Recipe.defaults(for: .cnn, budget: 10_000)
        let model = try recipe.buildModel()
        model.fusesLayers = false  // one step per layer
        let before = model.parameters.map { Array(UnsafeBufferPointer(start: $0.value.data, count: $0.value.count)) }
        let profile = try Profiler.profile(model: model, batchSize: 8, pool: nil, seconds: 0) { try recipe.buildOptimizer(for: $0) }

        XCTAssertEqual(profile.layers.count, model.layers.count)
        XCTAssertGreaterThanOrEqual(profile.rounds, 3)
        XCTAssertEqual(profile.layers.map(\.summary), model.layerSummaries.map(\.summary))
        var shape = model.inputShape
        for (layer, entry) in zip(model.layers, profile.layers) {
            XCTAssertEqual(entry.forwardFLOPs, 8 * layer.forwardFLOPs(inputShape: shape), entry.summary)
            XCTAssertGreaterThan(entry.forwardSeconds, 0, entry.summary)
            shape = try layer.outputShape(for: shape)
        }
        // The first convolution computes no input gradient: its backward is the weight gradient alone.
        XCTAssertEqual(profile.layers[0].backwardFLOPs, profile.layers[0].forwardFLOPs)
        let conv = try XCTUnwrap(profile.layers.dropFirst().first { $0.summary.hasPrefix("Conv2d") })
        XCTAssertEqual(conv.backwardFLOPs, 2 * conv.forwardFLOPs)
        XCTAssertGreaterThan(profile.lossSeconds, 0)
        XCTAssertGreaterThan(profile.optimizerSeconds, 0)
        let parts = profile.layers.reduce(0) { $0 + $1.forwardSeconds + $1.backwardSeconds } + profile.lossSeconds + profile.optimizerSeconds
        XCTAssertEqual(profile.stepSeconds, parts, accuracy: 1e-12)
        XCTAssertEqual(profile.imagesPerSecond, 8 / profile.stepSeconds, accuracy: 1e-9)

        let after = model.parameters.map { Array(UnsafeBufferPointer(start: $0.value.data, count: $0.value.count)) }
        XCTAssertEqual(before, after, "the profile trains a copy")
        XCTAssertTrue(model.isTraining)

        // Fused: each BatchNorm2d → ReLU → MaxPool2d on 28×28 and 14×14 planes is one entry, at
        // its BatchNorm's index (on 7×7, BatchNorm2d → ReLU is one and the pool another), the first
        // joined with the convolution before it.
        model.fusesLayers = true
        let fused = try Profiler.profile(model: model, batchSize: 8, pool: nil, seconds: 0) { try recipe.buildOptimizer(for: $0) }
        XCTAssertEqual(fused.layers.count, model.layers.count - 6)
        XCTAssertTrue(fused.layers.contains { $0.layerCount == 2 && $0.summary == "BatchNorm2d(33) → ReLU" })
        XCTAssertEqual(fused.layers.map(\.layerCount).reduce(0, +), model.layers.count)
        XCTAssertEqual(fused.layers[0].layerCount, 4)
        XCTAssertEqual(fused.layers[0].summary, "\(model.layers[0].summary) → BatchNorm2d(9) → ReLU → MaxPool2d(2)")
        let block = try XCTUnwrap(fused.layers.first { $0.layerCount == 3 })
        XCTAssertEqual(block.index, 5)
        XCTAssertEqual(block.summary, "BatchNorm2d(18) → ReLU → MaxPool2d(2)")
        XCTAssertEqual(fused.layers.map(\.forwardFLOPs).reduce(0, +), profile.layers.map(\.forwardFLOPs).reduce(0, +))
        // The first step taken apart: the convolution (its FLOPs), then the block, each timed as the
        // step's passes without the other's work (neither a difference of two times, which could
        // come out at 0 or below).
        let halves = fused.layers[0].parts
        XCTAssertEqual(halves.map(\.index), [0, 1])
        XCTAssertEqual(halves.map(\.layerCount), [1, 3])
        XCTAssertEqual(halves.map(\.summary), [model.layers[0].summary, "BatchNorm2d(9) → ReLU → MaxPool2d(2)"])
        XCTAssertEqual(halves.map(\.forwardFLOPs), [fused.layers[0].forwardFLOPs, 0])
        XCTAssertEqual(halves.map(\.backwardFLOPs), [fused.layers[0].backwardFLOPs, 0])
        XCTAssertTrue(halves.allSatisfy { $0.forwardSeconds > 0 && $0.backwardSeconds > 0 })
        XCTAssertTrue(fused.layers.dropFirst().allSatisfy { $0.parts.isEmpty })
    }

    func testInferenceProfileTimesEveryForwardInEvalMode() throws {
        let recipe = Recipe.defaults(for: .fcn, budget: 50_000)
        let model = try recipe.buildModel()
        let before = model.namedBuffers.map { $0.tensor.values }
        let profile = try Profiler.profileInference(model: model, batchSize: 1, pool: nil, seconds: 0)
        XCTAssertFalse(profile.training)
        XCTAssertGreaterThanOrEqual(profile.rounds, 3)
        // One row per plan step: each Linear → BatchNorm1d → ReLU is one product.
        XCTAssertEqual(profile.layers.map(\.summary), model.plan.map(\.summary))
        XCTAssertEqual(profile.layers.map(\.summary)[1], "Linear(784 → 61) → BatchNorm1d(61) → ReLU")
        XCTAssertEqual(profile.layers.map(\.layerCount).reduce(0, +), model.layers.count)
        XCTAssertTrue(profile.layers.allSatisfy { $0.forwardSeconds > 0 && $0.backwardSeconds == 0 && $0.backwardFLOPs == 0 })
        XCTAssertEqual(profile.lossSeconds, 0)
        XCTAssertEqual(profile.optimizerSeconds, 0)
        XCTAssertEqual(profile.stepSeconds, profile.layers.reduce(0) { $0 + $1.forwardSeconds }, accuracy: 1e-12)
        XCTAssertEqual(model.namedBuffers.map { $0.tensor.values }, before, "eval mode moves no running statistics")
        XCTAssertTrue(model.isTraining)
    }

    func testProfileRefusesWhatTrainingRefuses() throws {
        let recipe = Recipe.defaults(for: .fcn, budget: 50_000)
        let model = try recipe.buildModel()
        XCTAssertThrowsError(try Profiler.profile(model: model, batchSize: 1, pool: nil, seconds: 0) { try recipe.buildOptimizer(for: $0) }) {
            guard case SmallNetError.invalidArgument(let message) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(message.contains("BatchNorm"), message)
        }
        XCTAssertThrowsError(try Profiler.profile(model: model, batchSize: 0, pool: nil) { try recipe.buildOptimizer(for: $0) })
    }

    func testFMALimitIsAFiniteRate() throws {
        // Timing only: how it compares with the GEMM is for `smallnet bench` to print, not for a test.
        let fma = fmaPeakGFLOPs(pool: nil, seconds: 0.05)
        XCTAssertGreaterThan(fma, 0)
        XCTAssertTrue(fma.isFinite)
        XCTAssertEqual(fmaChains(iterations: 3, seed: 1), fmaChains(iterations: 3, seed: 1))
    }
}
