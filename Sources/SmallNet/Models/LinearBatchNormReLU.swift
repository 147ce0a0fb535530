// Linear → BatchNorm1d → ReLU (an FCN's hidden layer) in eval mode as one product.
import SmallNetKernels

/// The three layers as one plan step. In eval mode, with running statistics, on a batch the
/// Linear computes as one product (`Linear.takesDirectProduct`): each tile of y = x·Wᵀ + b is
/// normalised and rectified as it is stored, z = max(0, γ·((y − μ)·σ⁻¹) + β) (a `GemmEpilogue`),
/// with the numbers of the three layers run one after the other, bit for bit, and neither the
/// Linear's output nor the BatchNorm's written out. Otherwise (training, batch statistics, few
/// samples) the layers run one after the other.
///
/// Backward after a fused forward first runs the three forwards again on the same input (the
/// same numbers), which keeps what their backward passes need; then their backward passes.
///
/// The layers stay the model's objects (names, parameters, buffers, checkpoints); this step only
/// runs them.
final class LinearBatchNormReLU: PlanStep {
    let linear: Linear
    let norm: BatchNorm1d
    let relu: ReLU
    let layers: Range<Int>

    private let output = Tensor(uncheckedShape: [0], count: 0)
    /// The input of the last forward when it was fused (the layers kept nothing), else nil.
    private var fusedInput: Tensor?

    /// The step for layers a, b, c at indices index…index + 2, or nil unless they are a Linear,
    /// a BatchNorm1d of its output features and a ReLU.
    init?(_ a: Layer, _ b: Layer, _ c: Layer, at index: Int) {
        guard let linear = a as? Linear, let norm = b as? BatchNorm1d, let relu = c as? ReLU,
              norm.features == linear.outFeatures else { return nil }
        self.linear = linear
        self.norm = norm
        self.relu = relu
        layers = index..<(index + 3)
    }

    var summary: String { "\(linear.summary) → \(norm.summary) → \(relu.summary)" }

    func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        if !context.training, linear.takesDirectProduct(batch: input.shape[0]),
           let epilogue = norm.runningStatisticsEpilogue(relu: true) {
            fusedInput = input
            linear.forward(input, finishing: epilogue, into: output, pool: context.pool)
            return output
        }
        fusedInput = nil
        return layerByLayer(input, context: context)
    }

    func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        if let input = fusedInput {
            fusedInput = nil
            _ = layerByLayer(input, context: ExecutionContext(training: false, pool: context.pool))  // draws nothing
        }
        guard let dz = relu.backward(dOut, needInputGradient: true, context: context),
              let dy = norm.backward(dz, needInputGradient: true, context: context) else { return nil }
        return linear.backward(dy, needInputGradient: needInputGradient, context: context)
    }

    private func layerByLayer(_ input: Tensor, context: ExecutionContext) -> Tensor {
        relu.forward(norm.forward(linear.forward(input, context: context), context: context), context: context)
    }
}
