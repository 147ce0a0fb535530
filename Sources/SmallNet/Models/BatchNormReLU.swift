// BatchNorm2d → ReLU (a CNN block's tail where the pool does not join them) in one pass each way.
import SmallNetKernels

/// The two layers as one plan step, with the numbers of the two run one after the other, bit
/// for bit (for inputs that are not NaN): each value goes through the same products, sums and
/// comparisons, but the BatchNorm's output is never written. Taken where `BatchNormReLUMaxPool`
/// is not (the CNNs' 7×7 planes, whose pool runs by itself after this step); every pass reads
/// the planes in memory order, sample by sample, the samples spread over threads.
///
/// Forward: each plane's Σx and Σx² and from them the channel's statistics
/// (`BatchNorm.planeCoefficients`); then y = max(0, x·scale + shift) (`planeScaleShiftReLU`).
///
/// Backward, from the gradient g at y: dz = g where y > 0, else 0, computed as g is read; each
/// plane's Σdz and Σdz·x (`planeReLUGradientSums`), from the channel's the BatchNorm's gradients
/// (`BatchNorm.planeGradients`); then dx = k·dz + x·c1 + c0 (`planeReLUInputGradient`). Kept
/// between the passes: x, y, and the BatchNorm's μ and σ⁻¹.
///
/// The layers stay the model's objects (names, parameters, buffers, checkpoints); this step only
/// runs them. The BatchNorm's output and the ReLU's own buffers are not used.
final class BatchNormReLU: PlanStep {
    let norm: BatchNorm2d
    let relu: ReLU
    let layers: Range<Int>
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var input: Tensor?

    /// The step for layers a and b at indices index and index + 1 taking per-sample inputs of
    /// `inputShape` (C, H, W), or nil unless they are a BatchNorm2d and a ReLU.
    init?(_ a: Layer, _ b: Layer, at index: Int, inputShape: [Int]) {
        guard let norm = a as? BatchNorm2d, let relu = b as? ReLU, inputShape.count == 3 else { return nil }
        self.norm = norm
        self.relu = relu
        layers = index..<(index + 2)
    }

    var summary: String { "\(norm.summary) → \(relu.summary)" }

    func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = input.shape[0], c = input.shape[1], plane = input.shape[2] * input.shape[3]
        let (batch, update) = norm.beginForward(input, training: context.training)
        self.input = input
        output.resize(input.shape)
        let x = input.data, y = output.data
        let coefficients = norm.planeCoefficients(x, batch: n, plane: plane, batchStatistics: batch, update: update,
                                                  pool: context.pool)
        forEachPlane(samples: n, channels: c, pool: context.pool) { index in
            let (scale, shift) = coefficients[index % c]
            kernels.planeScaleShiftReLU(x + index * plane, y + index * plane, count: plane, scale: scale, shift: shift)
        }
        return output
    }

    func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard let input else { return nil }
        let n = input.shape[0], c = input.shape[1], plane = input.shape[2] * input.shape[3]
        let x = input.data, y = output.data, g = dOut.data
        let coefficients = norm.planeGradients(batch: n, plane: plane, pool: context.pool) { planes, sums in
            for index in planes {
                let (p, q) = kernels.planeReLUGradientSums(g + index * plane, relu: y + index * plane, x + index * plane,
                                                           count: plane)
                sums[2 * (index - planes.lowerBound)] = p
                sums[2 * (index - planes.lowerBound) + 1] = q
            }
        }
        guard needInputGradient else { return nil }
        dInput.resize(input.shape)
        let dx = dInput.data
        forEachPlane(samples: n, channels: c, pool: context.pool) { index in
            let (k, c1, c0) = coefficients[index % c]
            kernels.planeReLUInputGradient(g + index * plane, relu: y + index * plane, x + index * plane, dx + index * plane,
                                           count: plane, k: k, c1: c1, c0: c0)
        }
        return dInput
    }
}
