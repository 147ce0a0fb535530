// BatchNorm2d → ReLU → MaxPool2d(2) (a CNN block's tail) in one pass over the convolution's output.
import SmallNetKernels

/// The three layers as one plan step, with the numbers of the three run one after the other, bit
/// for bit: the same kernels in the same order, on one (H, W) plane at a time held in a scratch
/// plane that stays in cache, so neither the BatchNorm's output nor the ReLU's goes to memory.
///
/// Forward, channel by channel: the BatchNorm's statistics over the N planes of input x (N, C, H, W),
/// then for each plane z = max(0, x·scale + shift) in scratch and its 2×2 maxima y (N, C, H/2, W/2)
/// with their positions.
///
/// Backward, channel by channel: for each plane the gradient at the BatchNorm's output is rebuilt
/// in scratch from the pooled gradient g: dz = g at its window's maximum when that maximum y is
/// > 0 (ReLU passes it), else 0, and 0 elsewhere; from dz and x the BatchNorm's sums Σdz, Σdz·x,
/// then (a second rebuild) dx = k·dz + x·c1 + c0. Kept between the passes: x (the convolution's
/// output), y, the positions, and the BatchNorm's μ and σ⁻¹.
///
/// The layers stay the model's objects (names, parameters, buffers, checkpoints); this step only
/// runs them. The ReLU's and the MaxPool2d's own buffers are not used.
final class BatchNormReLUMaxPool: PlanStep {
    let norm: BatchNorm2d
    let relu: ReLU
    let pool: MaxPool2d
    let layers: Range<Int>

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    /// The 2×2 position of each output's maximum (0 1 / 2 3), as `maxPool2x2` writes it.
    private var position: [UInt8] = []
    private var input: Tensor?

    /// Planes of fewer values run unfused: one plane at a time does not pay below that. Measured
    /// with `smallnet profile` (100K and 10K CNNs, batch 64, 2 threads), fused against unfused
    /// time of the three layers: 28×28 planes 1.66×, 14×14 1.05–1.12×, 7×7 0.85–0.89×.
    static let minimumPlane = 12 * 12

    /// The step for layers a, b, c at indices index…index + 2 taking per-sample inputs of
    /// `inputShape`, or nil unless they are a BatchNorm2d, a ReLU and an unpadded 2×2, stride-2
    /// MaxPool2d without ceil mode, on planes of at least `minimumPlane` values.
    init?(_ a: Layer, _ b: Layer, _ c: Layer, at index: Int, inputShape: [Int]) {
        guard let norm = a as? BatchNorm2d, let relu = b as? ReLU, let pool = c as? MaxPool2d,
              pool.kernelSize == 2, pool.stride == 2, pool.padding == 0, !pool.ceilMode,
              inputShape.count == 3, inputShape[1] * inputShape[2] >= Self.minimumPlane else { return nil }
        self.norm = norm
        self.relu = relu
        self.pool = pool
        layers = index..<(index + 3)
    }

    var summary: String { "\(norm.summary) → \(relu.summary) → \(pool.summary)" }

    func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3]
        let ho = h / 2, wo = w / 2, plane = h * w, outPlane = ho * wo
        let (batch, update) = norm.beginForward(input, training: context.training)
        self.input = input
        output.resize([n, c, ho, wo])
        if position.count < output.count { position = [UInt8](repeating: 0, count: output.count) }
        let x = input.data, y = output.data, norm = norm
        position.withUnsafeMutableBufferPointer { positions in
            let at = positions.baseAddress!
            forEachRange(count: c, pool: context.pool) { channels in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: plane) { scratch in
                    let z = scratch.baseAddress!
                    for ch in channels {
                        let (scale, shift) = norm.planeCoefficients(ch, x, batch: n, plane: plane, batchStatistics: batch,
                                                                    update: update)
                        for s in 0..<n {
                            let index = s * c + ch
                            kernels.planeScaleShift(x + index * plane, z, samples: 1, stride: plane, plane: plane,
                                                    scale: scale, shift: shift)
                            kernels.reluForward(z, z, count: plane)
                            kernels.maxPool2x2(z, width: w, outHeight: ho, outWidth: wo, output: y + index * outPlane,
                                               position: at + index * outPlane)
                        }
                    }
                }
            }
        }
        return output
    }

    func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard let input else { return nil }
        let n = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3]
        let ho = h / 2, wo = w / 2, plane = h * w, outPlane = ho * wo
        if needInputGradient { dInput.resize(input.shape) }
        let x = input.data, g = dOut.data, y = output.data, dx = dInput.data, norm = norm
        position.withUnsafeBufferPointer { positions in
            let at = positions.baseAddress!
            forEachRange(count: c, pool: context.pool) { channels in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: plane + outPlane) { scratch in
                    let dz = scratch.baseAddress!, passed = dz + plane
                    /// dz of plane `index`: ReLU's backward on the maxima (the ReLU outputs that got
                    /// a gradient), then the 2×2 pool's.
                    func rebuild(_ index: Int) {
                        let o = index * outPlane
                        kernels.reluBackward(y + o, g + o, passed, count: outPlane)
                        kernels.maxPool2x2Backward(passed, position: at + o, outHeight: ho, outWidth: wo, height: h,
                                                   width: w, dInput: dz)
                    }
                    for ch in channels {
                        var sumDz: Float = 0, sumDzX: Float = 0
                        for s in 0..<n {
                            rebuild(s * c + ch)
                            let (p, q) = kernels.planeGradientSums(dz, x + (s * c + ch) * plane, samples: 1, stride: plane,
                                                                   plane: plane)
                            sumDz += p
                            sumDzX += q
                        }
                        let (k, c1, c0) = norm.planeGradient(ch, sumDy: sumDz, sumDyX: sumDzX, values: n * plane)
                        guard needInputGradient else { continue }
                        for s in 0..<n {
                            let index = s * c + ch
                            rebuild(index)
                            kernels.planeInputGradient(dz, x + index * plane, dx + index * plane, samples: 1, stride: plane,
                                                       plane: plane, k: k, c1: c1, c0: c0)
                        }
                    }
                }
            }
        }
        return needInputGradient ? dInput : nil
    }
}
