// A CNN's first block: Conv2d on a single-channel image, then BatchNorm2d → ReLU → MaxPool2d(2).

/// The first convolution and the fused block after it as one plan step, with the numbers of
/// the two steps run one after the other, bit for bit.
///
/// Forward: the convolution, then the block. Backward, when no gradient is needed at the
/// model's input (the convolution is the first layer): the block's first pass (its plane sums,
/// hence the BatchNorm's gradients); then, sample by sample on the convolution's sample groups,
/// the block's second pass writes the sample's gradient at the convolution's output (Cout·H·W
/// floats, 94 KB for 30 channels of 28×28) into the thread's scratch, and the convolution adds
/// that sample's weight gradient at once, while the plane is in cache. Run apart, the block writes
/// the whole batch's gradient (6 MB at batch 64) and the convolution reads it back.
final class ConvolutionBlock: PlanStep {
    let convolution: Conv2d
    let block: BatchNormReLUMaxPool
    let layers: Range<Int>

    /// The step for `convolution` at `index` followed by `block`, or nil unless the convolution
    /// takes the direct path on its `inputShape` (one input channel, "same" output).
    init?(_ convolution: Layer, at index: Int, inputShape: [Int], followedBy block: BatchNormReLUMaxPool) {
        guard let convolution = convolution as? Conv2d, convolution.takesDirectPath(inputShape: inputShape),
              block.layers.lowerBound == index + 1 else { return nil }
        self.convolution = convolution
        self.block = block
        layers = index..<block.layers.upperBound
    }

    var summary: String { "\(convolution.summary) → \(block.summary)" }

    func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        block.forward(convolution.forward(input, context: context), context: context)
    }

    func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard !needInputGradient else {
            guard let dBlock = block.backward(dOut, needInputGradient: true, context: context) else { return nil }
            return convolution.backward(dBlock, needInputGradient: needInputGradient, context: context)
        }
        blockThenWeightGradient(dOut, context: context, gradientsOnly: false)
        return nil
    }

    /// The block's part of `backward` (the first layer's): its two passes, each sample's gradient
    /// written into the same scratch on the same thread, without the convolution's weight
    /// gradient. The profiler times it alone to tell the two parts apart (on its copy of the
    /// model: the BatchNorm's dγ and dβ are added once more).
    func blockBackwardAlone(_ dOut: Tensor, context: ExecutionContext) {
        blockThenWeightGradient(dOut, context: context, gradientsOnly: true)
    }

    /// The convolution's part of `backward` run alone, in seconds: the block's input gradient
    /// for the whole batch written first (not timed), then the convolution's weight gradient
    /// from it, as the unfused steps run them. For the profiler (on its copy of the model: the
    /// gradients are added once more).
    func convolutionBackwardAlone(_ dOut: Tensor, context: ExecutionContext) -> Double {
        guard let dBlock = block.backward(dOut, needInputGradient: true, context: context) else { return 0 }
        let start = monotonicSeconds()
        _ = convolution.backward(dBlock, needInputGradient: false, context: context)
        return monotonicSeconds() - start
    }

    private func blockThenWeightGradient(_ dOut: Tensor, context: ExecutionContext, gradientsOnly: Bool) {
        let coefficients = block.inputGradientCoefficients(dOut, context: context)
        let shape = convolution.output.shape, channels = shape[1], plane = shape[2] * shape[3]
        block.withInputGradientWriter(dOut, coefficients: coefficients) { writer in
            convolution.weightGradient(batch: shape[0], context: context, gradientsOnly: gradientsOnly) { s, scratch in
                for c in 0..<channels { writer.write(plane: s * channels + c, into: scratch + c * plane) }
                return UnsafePointer(scratch)
            }
        }
    }
}
