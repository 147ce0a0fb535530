// BatchNorm2d → ReLU → MaxPool2d(2) (a CNN block's tail) in one pass over the convolution's output.
import SmallNetKernels

/// The three layers as one plan step, with the numbers of the three run one after the other, bit
/// for bit: each value goes through the same products, sums and comparisons, but neither the
/// BatchNorm's output nor the ReLU's is written out. Every pass reads the planes in memory order,
/// sample by sample (the samples spread over threads); the BatchNorm adds each channel's per-plane
/// sums in sample order (`BatchNorm.planeCoefficients`, `BatchNorm.planeGradients`).
///
/// Forward: each plane's Σx and Σx² and from them the channel's statistics; then each plane's 2×2
/// maxima y (N, C, H/2, W/2) of z = max(0, x·scale + shift) and their positions, z computed as x is
/// read (`scaleShiftReLUMaxPool2x2`).
///
/// Backward: for each plane the gradient at the BatchNorm's output is rebuilt in a scratch plane
/// that stays in cache, from the pooled gradient g: dz = g at its window's maximum when that
/// maximum y is > 0 (ReLU passes it), else 0, and 0 elsewhere; from dz and x the plane's Σdz and
/// Σdz·x, and from the channel's the BatchNorm's gradients; then dx = k·dz + x·c1 + c0 with dz
/// rebuilt as each x is read (`pooledReLUInputGradient`). Kept between the passes: x (the
/// convolution's output), y, the positions, and the BatchNorm's μ and σ⁻¹.
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

    /// Planes of fewer values run unfused: below that the per-plane kernel calls cost about what
    /// the passes save. Measured with `smallnet profile` (100K CNN, batch 64, 1 thread, three
    /// rounds) on 7×7 planes, fused against the three layers' time unfused: forward 1.5× faster,
    /// backward 1.1–1.4× slower.
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
        let x = input.data, y = output.data
        let coefficients = norm.planeCoefficients(x, batch: n, plane: plane, batchStatistics: batch, update: update,
                                                  pool: context.pool)
        position.withUnsafeMutableBufferPointer { positions in
            let at = positions.baseAddress!
            forEachPlane(samples: n, channels: c, pool: context.pool) { index in
                let (scale, shift) = coefficients[index % c]
                kernels.scaleShiftReLUMaxPool2x2(x + index * plane, width: w, outHeight: ho, outWidth: wo, scale: scale,
                                                 shift: shift, output: y + index * outPlane, position: at + index * outPlane)
            }
        }
        return output
    }

    func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard let input else { return nil }
        let coefficients = inputGradientCoefficients(dOut, context: context)
        guard needInputGradient else { return nil }
        dInput.resize(input.shape)
        let n = input.shape[0], c = input.shape[1], plane = input.shape[2] * input.shape[3], dx = dInput.data
        withInputGradientWriter(dOut, coefficients: coefficients) { writer in
            forEachPlane(samples: n, channels: c, pool: context.pool) { index in
                writer.write(plane: index, into: dx + index * plane)
            }
        }
        return dInput
    }

    /// The first backward pass: each plane's gradient sums, from which the BatchNorm adds dγ and
    /// dβ and returns each channel's coefficients of dx = k·dz + x·c1 + c0.
    ///
    /// dz is rebuilt in a scratch plane that stays in cache: ReLU's backward on the maxima (the
    /// ReLU outputs that got a gradient), then the 2×2 pool's; then the plane's Σdz and Σdz·x.
    func inputGradientCoefficients(_ dOut: Tensor, context: ExecutionContext) -> [(k: Float, c1: Float, c0: Float)] {
        guard let input else { preconditionFailure("backward before forward") }
        let n = input.shape[0], h = input.shape[2], w = input.shape[3]
        let ho = h / 2, wo = w / 2, plane = h * w, outPlane = ho * wo
        let x = input.data, g = dOut.data, y = output.data
        return position.withUnsafeBufferPointer { positions in
            let at = positions.baseAddress!
            return norm.planeGradients(batch: n, plane: plane, pool: context.pool) { planes, sums in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: plane + outPlane) { scratch in
                    let dz = scratch.baseAddress!, passed = dz + plane
                    for index in planes {
                        let o = index * outPlane
                        kernels.reluBackward(y + o, g + o, passed, count: outPlane)
                        kernels.maxPool2x2Backward(passed, position: at + o, outHeight: ho, outWidth: wo, height: h,
                                                   width: w, dInput: dz)
                        let (p, q) = kernels.planeGradientSums(dz, x + index * plane, samples: 1, stride: plane, plane: plane)
                        sums[2 * (index - planes.lowerBound)] = p
                        sums[2 * (index - planes.lowerBound) + 1] = q
                    }
                }
            }
        }
    }

    /// The second backward pass: calls `body` with a writer of each plane's input gradient from
    /// the first pass's coefficients. The writer holds the addresses it reads, taken once here:
    /// reaching them through the step's objects on every plane would retain and release those
    /// objects from every thread at once.
    func withInputGradientWriter(_ dOut: Tensor, coefficients: [(k: Float, c1: Float, c0: Float)],
                                 _ body: (InputGradientWriter) -> Void) {
        guard let input else { preconditionFailure("backward before forward") }
        position.withUnsafeBufferPointer { positions in
            coefficients.withUnsafeBufferPointer { coefficients in
                body(InputGradientWriter(
                    gradient: dOut.data, pooled: output.data, position: positions.baseAddress!, input: input.data,
                    coefficients: coefficients.baseAddress!, channels: input.shape[1], height: input.shape[2],
                    width: input.shape[3]))
            }
        }
    }
}

/// Writes the input gradient of one plane of a `BatchNormReLUMaxPool` (its second backward pass).
struct InputGradientWriter {
    let gradient, pooled: UnsafePointer<Float>
    let position: UnsafePointer<UInt8>
    let input: UnsafePointer<Float>
    let coefficients: UnsafePointer<(k: Float, c1: Float, c0: Float)>
    let channels, height, width: Int

    /// Plane `index` (s·C + c) of the input gradient (H·W floats) into `dx`.
    func write(plane index: Int, into dx: UnsafeMutablePointer<Float>) {
        let ho = height / 2, wo = width / 2, o = index * ho * wo
        let (k, c1, c0) = coefficients[index % channels]
        kernels.pooledReLUInputGradient(gradient + o, pooled: pooled + o, position: position + o, outHeight: ho,
                                        outWidth: wo, height: height, width: width,
                                        input: input + index * height * width, dInput: dx, k: k, c1: c1, c0: c0)
    }
}
