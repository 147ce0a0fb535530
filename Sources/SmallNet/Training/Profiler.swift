// Where the time of a training step goes (each layer's forward and backward, the loss, the
// update), or of an inference pass (each layer's forward in eval mode).

/// One step of the model's execution plan in a training step, in seconds per batch (medians over
/// the rounds): a layer, or the layers a fused step runs in one pass.
public struct LayerProfile {
    /// The (first) layer's index in the model.
    public let index: Int
    /// Layers this step runs: 1, or 3 for a fused BatchNorm2d → ReLU → MaxPool2d.
    public let layerCount: Int
    public let summary: String
    public let forwardSeconds: Double
    public let backwardSeconds: Double
    /// Matrix-product FLOPs of the batch's forward pass (as `Layer.forwardFLOPs`).
    public let forwardFLOPs: Int
    /// Of the backward pass: twice the forward's (the weight and the input gradient), once when
    /// the layer computes no input gradient, 0 for layers without matrix products.
    public let backwardFLOPs: Int
    /// A first convolution fused with its block (`ConvolutionBlock`) taken apart: the
    /// convolution, then the BatchNorm2d → ReLU → MaxPool2d(2). The two interleave sample by
    /// sample, so each is timed as the step's passes run without the other's work
    /// (`ConvolutionBlock.Part`): the convolution's products (forward, each sample's planes into
    /// the scratch; backward, each sample's weight-gradient sums), and everything else (the
    /// taps' moments and statistics, the pooling from the scratch, the BatchNorm's gradients).
    /// The step and each part are timed in every third round, each in the round where it runs
    /// first after the steps before it, as in training. Empty for every other step.
    public internal(set) var parts: [LayerProfile] = []
}

/// A training step taken apart: forward and backward of every step of the model's execution plan
/// (`Sequential.fusesLayers`), the loss with its gradient, and the optimizer's zero-grad and
/// update. The step is their sum. For an inference pass (`training` false): the forward of every
/// step in eval mode alone, the backward, loss and update times 0.
public struct StepProfile {
    public let batchSize: Int
    public let threads: Int
    /// A training step, or an inference pass.
    public let training: Bool
    public let layers: [LayerProfile]
    /// Softmax cross-entropy and its gradient.
    public let lossSeconds: Double
    /// Zeroing the gradients and the optimizer's update.
    public let optimizerSeconds: Double
    /// Rounds measured (after one warm-up round).
    public let rounds: Int

    public var stepSeconds: Double {
        layers.reduce(0) { $0 + $1.forwardSeconds + $1.backwardSeconds } + lossSeconds + optimizerSeconds
    }
    public var imagesPerSecond: Double { Double(batchSize) / stepSeconds }
    public var stepFLOPs: Int { layers.reduce(0) { $0 + $1.forwardFLOPs + $1.backwardFLOPs } }
    public var gflops: Double { Double(stepFLOPs) / stepSeconds / 1e9 }
}

public enum Profiler {
    /// Profiles training steps of a copy of `model` (the model itself is not changed) on random
    /// images and labels, with the optimizer `makeOptimizer` builds for the copy, for about
    /// `seconds` (at least 3 rounds) after one warm-up round.
    /// - Throws: `invalidArgument` for a batch size outside 1...65536 or a batch BatchNorm
    ///   refuses; what building the copy or the optimizer throws.
    public static func profile(model: Sequential, batchSize: Int, pool: ThreadPool?, seconds: Double = 2,
                               makeOptimizer: (Sequential) throws -> Optimizer) throws -> StepProfile {
        var generator = RandomGenerator(seed: 7)
        let (copy, input) = try preparedCopy(of: model, batchSize: batchSize, seconds: seconds, training: true,
                                             generator: &generator)
        let optimizer = try makeOptimizer(copy)
        let classes = copy.outputShape.reduce(1, *)
        let labels = (0..<batchSize).map { _ in Int32(generator.nextInt(below: Swift.max(classes, 1))) }
        let dLogits = try Tensor(shape: [batchSize] + copy.outputShape)

        let plan = copy.plan, n = plan.count
        var forward = [[Double]](repeating: [], count: n), backward = forward
        // Per step, its parts' times (`LayerProfile.parts`): [convolution, block].
        var partForward = [[[Double]]](repeating: [[], []], count: n), partBackward = partForward
        var loss: [Double] = [], update: [Double] = []
        let start = monotonicSeconds()
        var round = 0
        while round < 4 || (monotonicSeconds() - start < seconds && round < 10_000) {
            let context = ExecutionContext(training: true, random: copy.random, pool: pool)
            let x = timedForward(plan, input, context: context, round: round, times: &forward, partTimes: &partForward)
            var t = monotonicSeconds()
            dLogits.resize(x.shape)
            _ = try labels.withUnsafeBufferPointer {
                try softmaxCrossEntropy(logits: x, labels: $0, labelSmoothing: 0, dLogits: dLogits)
            }
            loss.append(monotonicSeconds() - t)
            t = monotonicSeconds()
            optimizer.zeroGrad()
            var elapsed = monotonicSeconds() - t
            var d = dLogits
            for i in (0..<n).reversed() {
                let needInput = copy.needsInputGradient(plan[i])
                if let convolutionBlock = plan[i] as? ConvolutionBlock {
                    // The step, its block alone and its convolution alone, each timed only in the
                    // rounds where it runs first after the steps before it, as the step runs in
                    // training: run again at once, the same passes find the batch's data in cache.
                    switch round % 3 {
                    case 0: backward[i].append(timed { convolutionBlock.backward(d, context: context, part: .whole) })
                    case 1: partBackward[i][0].append(timed { convolutionBlock.backward(d, context: context, part: .convolution) })
                    default: partBackward[i][1].append(timed { convolutionBlock.backward(d, context: context, part: .block) })
                    }
                    break  // a first layer: no gradient goes further
                }
                let t = monotonicSeconds()
                let next = plan[i].backward(d, needInputGradient: needInput, context: context)
                backward[i].append(monotonicSeconds() - t)
                guard let next else { break }
                d = next
            }
            t = monotonicSeconds()
            optimizer.step(pool: pool)
            elapsed += monotonicSeconds() - t
            update.append(elapsed)
            if round == 0 {  // the warm-up round: buffers sized, caches and workers warm
                forward = forward.map { _ in [] }
                backward = backward.map { _ in [] }
                partForward = partForward.map { _ in [[], []] }
                partBackward = partBackward.map { _ in [[], []] }
                loss = []
                update = []
            }
            round += 1
        }

        var layers: [LayerProfile] = []
        for (i, step) in plan.enumerated() {
            let flops = forwardFLOPs(of: step, in: copy, batchSize: batchSize)
            var layer = LayerProfile(index: step.layers.lowerBound, layerCount: step.layers.count, summary: step.summary,
                                     forwardSeconds: median(forward[i]), backwardSeconds: median(backward[i]),
                                     forwardFLOPs: flops, backwardFLOPs: copy.needsInputGradient(step) ? 2 * flops : flops)
            if let step = step as? ConvolutionBlock, !partBackward[i][0].isEmpty {
                layer.parts = parts(of: step, forwardFLOPs: flops, backwardFLOPs: flops, forward: partForward[i],
                                    backward: partBackward[i])
            }
            layers.append(layer)
        }
        return StepProfile(batchSize: batchSize, threads: pool?.threadCount ?? 1, training: true, layers: layers,
                           lossSeconds: median(loss), optimizerSeconds: median(update), rounds: round - 1)
    }

    /// Profiles inference passes of a copy of `model` in eval mode (what `Trainer.predict` and
    /// `sn_model_predict` run per batch, without the data and the softmax) on random images, for
    /// about `seconds` (at least 3 passes) after one warm-up pass.
    /// - Throws: `invalidArgument` for a batch size outside 1...65536 or a batch BatchNorm
    ///   refuses in eval mode; what building the copy throws.
    public static func profileInference(model: Sequential, batchSize: Int, pool: ThreadPool?,
                                        seconds: Double = 2) throws -> StepProfile {
        var generator = RandomGenerator(seed: 7)
        let (copy, input) = try preparedCopy(of: model, batchSize: batchSize, seconds: seconds, training: false,
                                             generator: &generator)

        let plan = copy.plan
        var forward = [[Double]](repeating: [], count: plan.count)
        var partForward = [[[Double]]](repeating: [[], []], count: plan.count)
        let start = monotonicSeconds()
        var round = 0
        while round < 4 || (monotonicSeconds() - start < seconds && round < 100_000) {
            _ = timedForward(plan, input, context: ExecutionContext(training: false, random: copy.random, pool: pool), round: round,
                             times: &forward, partTimes: &partForward)
            if round == 0 {  // the warm-up pass
                forward = forward.map { _ in [] }
                partForward = partForward.map { _ in [[], []] }
            }
            round += 1
        }
        let layers = plan.enumerated().map { (i, step) in
            let flops = forwardFLOPs(of: step, in: copy, batchSize: batchSize)
            var layer = LayerProfile(index: step.layers.lowerBound, layerCount: step.layers.count, summary: step.summary,
                                     forwardSeconds: median(forward[i]), backwardSeconds: 0, forwardFLOPs: flops,
                                     backwardFLOPs: 0)
            if let step = step as? ConvolutionBlock {
                layer.parts = parts(of: step, forwardFLOPs: flops, backwardFLOPs: 0, forward: partForward[i],
                                    backward: [[], []])
            }
            return layer
        }
        return StepProfile(batchSize: batchSize, threads: pool?.threadCount ?? 1, training: false, layers: layers,
                           lossSeconds: 0, optimizerSeconds: 0, rounds: round - 1)
    }

    /// What both profiles start with: the settings checked, a copy of `model` in training or eval
    /// mode (refused when its BatchNorms cannot take a batch of `batchSize` there), and a batch of
    /// random images in [−1, 1) drawn from `generator`.
    static func preparedCopy(of model: Sequential, batchSize: Int, seconds: Double, training: Bool,
                             generator: inout RandomGenerator) throws -> (Sequential, Tensor) {
        try require(batchSize >= 1 && batchSize <= 65536, "batch size must be in 1...65536, got \(batchSize)")
        try require(seconds >= 0 && seconds <= 3600, "seconds must be in 0...3600, got \(seconds)")
        let copy = try model.copy()
        copy.isTraining = training
        if let refusal = copy.batchStatisticsRefusal(batch: batchSize, training: training) {
            throw SmallNetError.invalidArgument(refusal)
        }
        let input = try Tensor(shape: [batchSize] + copy.inputShape)
        for i in 0..<input.count { input.data[i] = generator.nextUniform() * 2 - 1 }
        return (copy, input)
    }

    /// Runs `input` through `plan`, appending each step's forward seconds to `times[step]`; for a
    /// `ConvolutionBlock`, in every third round (by `round`) the step, in the others one of its
    /// parts ([convolution, block] in `partTimes[step]`) then the step untimed.
    static func timedForward(_ plan: [PlanStep], _ input: Tensor, context: ExecutionContext, round: Int,
                             times: inout [[Double]], partTimes: inout [[[Double]]]) -> Tensor {
        var x = input
        for (i, step) in plan.enumerated() {
            if let step = step as? ConvolutionBlock, round % 3 != 0 {
                let part = round % 3 == 1 ? ConvolutionBlock.Part.convolution : .block
                partTimes[i][part == .convolution ? 0 : 1].append(timed { _ = step.forward(x, context: context, part: part) })
                x = step.forward(x, context: context)
            } else {
                let t = monotonicSeconds()
                x = step.forward(x, context: context)
                times[i].append(monotonicSeconds() - t)
            }
        }
        return x
    }

    /// `step`'s two parts (`LayerProfile.parts`), the convolution (all of the step's FLOPs) and
    /// the block, from their times per round ([convolution, block]; medians, 0 for none).
    static func parts(of step: ConvolutionBlock, forwardFLOPs: Int, backwardFLOPs: Int, forward: [[Double]],
                      backward: [[Double]]) -> [LayerProfile] {
        [LayerProfile(index: step.layers.lowerBound, layerCount: 1, summary: step.convolution.summary,
                      forwardSeconds: median(forward[0]), backwardSeconds: median(backward[0]), forwardFLOPs: forwardFLOPs,
                      backwardFLOPs: backwardFLOPs),
         LayerProfile(index: step.block.layers.lowerBound, layerCount: step.block.layers.count, summary: step.block.summary,
                      forwardSeconds: median(forward[1]), backwardSeconds: median(backward[1]), forwardFLOPs: 0,
                      backwardFLOPs: 0)]
    }

    /// Matrix-product FLOPs of `step`'s layers for a batch of `batchSize`.
    static func forwardFLOPs(of step: PlanStep, in model: Sequential, batchSize: Int) -> Int {
        step.layers.reduce(0) { total, l in
            total + batchSize * model.layers[l].forwardFLOPs(inputShape: l == 0 ? model.inputShape : model.layerOutputShapes[l - 1])
        }
    }

    /// Seconds `body` takes.
    static func timed(_ body: () -> Void) -> Double {
        let start = monotonicSeconds()
        body()
        return monotonicSeconds() - start
    }

    /// The middle value (the mean of the two middle ones for an even count); 0 for none.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted(), mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
