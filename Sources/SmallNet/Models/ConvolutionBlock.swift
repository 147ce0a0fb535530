// A CNN's first block: Conv2d on a single-channel image, then BatchNorm2d → ReLU → MaxPool2d(2).
import SmallNetKernels

/// The first convolution and the block after it as one plan step that never writes the
/// convolution's output x (N, C, H, W), nor its gradient.
///
/// Statistics: x_o = Σ_t w[o, t]·tap_t is linear in the image's nine taps (its shifted copies),
/// so the BatchNorm's sums follow from the taps' moments over the batch, S_t = Σ tap_t and
/// P_tu = Σ tap_t·tap_u (`tapMoments`, added in Double in sample order):
///   Σx_o = w_o·S,  Σx_o² = w_o·P·w_oᵀ.
/// Forward, per sample: the image's 16 phase grids (`PhaseGrids`), then every channel's four
/// phases of each pooling window, normalised, ReLU'd and pooled in registers
/// (`phaseConvolutionReLUMaxPool`: the convolution's numbers, then the fused block's).
/// Backward: with dz the gradient ReLU and the pool pass back to x's normalised values, and D_o
/// its weight-gradient sums D_ot = Σ dz_o·tap_t (`phaseWeightGradient`, per sample, from the
/// pooled gradient), the BatchNorm's input gradient dx = k·dz + c1·x + c0 gives
///   Σdz_o·x_o = w_o·D_o,  dW_ot = Σ dx_o·tap_t = k·D_ot + c1·(w_o·P)_t + c0·S_t,
/// D summed in sample order. The numbers are the layers' run one by one up to the order of the
/// sums (the BatchNorm's from the taps' moments rather than from x, dW as three sums), the same
/// whatever the threads; in eval mode with running statistics, the same bit for bit.
///
/// Taken only for a first layer (no gradient is needed at its input) with a 3×3 kernel and no
/// bias (a BatchNorm removes a bias anyway). The layers stay the model's objects; the BatchNorm
/// keeps its statistics and gradients, the ReLU's and the MaxPool2d's buffers are not used.
final class ConvolutionBlock: PlanStep {
    let convolution: Conv2d
    let block: BatchNormReLUMaxPool
    let layers: Range<Int>
    private let planes: ShiftedPlanes
    private let grids: PhaseGrids

    private let output = Tensor(uncheckedShape: [0], count: 0)
    /// The phase of each output's maximum (0 1 / 2 3, as `maxPool2x2`'s position), or
    /// `PhaseGrids.noGradient` where the output is 0: all that backward needs of the pool and the
    /// ReLU (with the image, whose phase grids it builds again).
    private var position: [UInt8] = []
    private var input: Tensor?
    /// Per sample, its taps' moments: 9 sums, then the 9 × 9 products (`tapMoments`).
    private var moments: [Float] = []
    /// The batch's S (9) and P (9 × 9), summed in sample order.
    private var tapSums: [Double] = [], tapProducts: [Double] = []
    /// Per sample, D (9, C) of its pooled gradient, summed in sample order afterwards.
    private var sampleGradients: [Float] = []

    /// What a call computes: the whole step, or (for the profiler, which takes the step apart)
    /// the convolution alone (the phase grids and the kernel that convolves, normalises and pools
    /// them, or its weight gradient) or the rest (the taps' moments and the statistics; the
    /// BatchNorm's gradients and dW from the three sums).
    enum Part { case whole, convolution, block }

    /// The step for `convolution` at `index` followed by `block`, or nil unless the convolution
    /// is the model's first layer with parameters (`isFirst`), has no bias, and takes the direct
    /// path on its `inputShape` with a 3×3 kernel (one input channel, "same" output).
    init?(_ convolution: Layer, at index: Int, inputShape: [Int], isFirst: Bool, followedBy block: BatchNormReLUMaxPool) {
        guard isFirst, let convolution = convolution as? Conv2d, convolution.bias == nil, convolution.kernelSize == 3,
              convolution.takesDirectPath(inputShape: inputShape), block.layers.lowerBound == index + 1 else { return nil }
        self.convolution = convolution
        self.block = block
        layers = index..<block.layers.upperBound
        planes = ShiftedPlanes(height: inputShape[1], width: inputShape[2], kernel: 3)
        grids = PhaseGrids(height: inputShape[1], width: inputShape[2])
    }

    var summary: String { "\(convolution.summary) → \(block.summary)" }

    /// Floats of moments per sample: the 9 taps' sums and their 9 × 9 products.
    private static let momentCount = 9 + 81

    func forward(_ input: Tensor, context: ExecutionContext) -> Tensor { forward(input, context: context, part: .whole) }

    func forward(_ input: Tensor, context: ExecutionContext, part: Part) -> Tensor {
        let n = input.shape[0], c = convolution.outChannels, pixels = planes.pixels, windows = grids.windows
        let count = Self.momentCount, planes = planes, grids = grids
        self.input = input
        output.resize([n, c, grids.outHeight, grids.outWidth])
        if position.count < output.count { position = [UInt8](repeating: 0, count: output.count) }
        if moments.count < n * count { moments = [Float](repeating: 0, count: n * count) }
        let x = input.data, y = output.data, weight = UnsafePointer(convolution.weight.value.data)
        var coefficients = [Float](repeating: 0, count: 2 * c)
        if part != .convolution {
            let (batch, update) = block.norm.beginForward(nil, training: context.training)
            var channelSums: [(total: Double, squares: Double)]?
            if batch {
                moments.withUnsafeMutableBufferPointer { moments in
                    let m = moments.baseAddress!
                    forEachRange(count: n, pool: context.pool) { samples in
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: planes.scratchCount) { scratch in
                            let shifted = scratch.baseAddress!
                            for s in samples {
                                kernels.fillShiftedPlanes(planes, image: x + s * pixels, planes: shifted)
                                kernels.tapMoments(planes, planes: shifted, sums: m + s * count, products: m + s * count + 9)
                            }
                        }
                    }
                }
                addMoments(batch: n)
                channelSums = (0..<c).map { o in outputSums(weight + 9 * o) }
            }
            let scaleShift = block.norm.planeCoefficients(channelSums: channelSums, values: n * pixels, update: update)
            for (o, (scale, shift)) in scaleShift.enumerated() {
                coefficients[2 * o] = scale
                coefficients[2 * o + 1] = shift
            }
        } else {
            for o in 0..<c { coefficients[2 * o] = 1 }
        }
        guard part != .block else { return output }
        position.withUnsafeMutableBufferPointer { positions in
            coefficients.withUnsafeBufferPointer { coefficients in
                let at = positions.baseAddress!, scaleShift = coefficients.baseAddress!
                forEachRange(count: n, pool: context.pool) { samples in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: grids.scratchCount) { scratch in
                        let phases = scratch.baseAddress!
                        for s in samples {
                            kernels.fillPhaseGrids(grids, image: x + s * pixels, grids: phases)
                            kernels.phaseConvolutionReLUMaxPool(grids, grids: phases, weight: weight, outChannels: c,
                                                                coefficients: scaleShift, output: y + s * c * windows,
                                                                position: at + s * c * windows)
                        }
                    }
                }
            }
        }
        return output
    }

    /// S and P over the batch, in Double, summed in sample order.
    private func addMoments(batch n: Int) {
        let count = Self.momentCount
        tapSums = [Double](repeating: 0, count: 9)
        tapProducts = [Double](repeating: 0, count: 81)
        for s in 0..<n {
            for i in 0..<9 { tapSums[i] += Double(moments[s * count + i]) }
            for i in 0..<81 { tapProducts[i] += Double(moments[s * count + 9 + i]) }
        }
    }

    /// Σx_o and Σx_o² over the batch from the taps' moments, w the channel's 9 weights: w·S and
    /// w·P·wᵀ.
    private func outputSums(_ w: UnsafePointer<Float>) -> (total: Double, squares: Double) {
        var total = 0.0, squares = 0.0
        for i in 0..<9 {
            var row = 0.0
            for j in 0..<9 { row += Double(w[j]) * tapProducts[9 * i + j] }
            total += Double(w[i]) * tapSums[i]
            squares += Double(w[i]) * row
        }
        return (total, squares)
    }

    func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        backward(dOut, context: context, part: .whole)
        return nil
    }

    /// Adds the BatchNorm's and the convolution's gradients of the last forward (see the type's
    /// comment).
    func backward(_ dOut: Tensor, context: ExecutionContext, part: Part) {
        guard let input else { preconditionFailure("backward before forward") }
        let n = input.shape[0], c = convolution.outChannels, pixels = planes.pixels, windows = grids.windows
        let grids = grids
        let x = input.data, g = dOut.data, weight = convolution.weight.value.data
        if sampleGradients.count < n * 9 * c { sampleGradients = [Float](repeating: 0, count: n * 9 * c) }
        let coefficients = position.withUnsafeBufferPointer { positions in
            sampleGradients.withUnsafeMutableBufferPointer { gradients in
                let at = positions.baseAddress!, d = gradients.baseAddress!
                return block.norm.planeGradients(batch: n, plane: pixels, pool: context.pool) { planeRange, sums in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: grids.scratchCount + c) { scratch in
                        let phases = scratch.baseAddress!, passed = phases + grids.scratchCount
                        for s in (planeRange.lowerBound / c)..<(planeRange.upperBound / c) {
                            let sampleD = d + s * 9 * c, first = s * c - planeRange.lowerBound
                            if part != .block {
                                kernels.fillPhaseGrids(grids, image: x + s * pixels, grids: phases)
                                sampleD.update(repeating: 0, count: 9 * c)
                                kernels.phaseWeightGradient(grids, grids: phases, gradient: g + s * c * windows,
                                                            position: at + s * c * windows, outChannels: c,
                                                            dWeightT: sampleD, sums: passed)
                            }
                            guard part != .convolution else { continue }
                            for o in 0..<c {
                                var product: Float = 0
                                for i in 0..<9 { product += weight[9 * o + i] * sampleD[i * c + o] }
                                sums[2 * (first + o)] = passed[o]
                                sums[2 * (first + o) + 1] = product
                            }
                        }
                    }
                }
            }
        }
        if part != .convolution { addWeightGradient(batch: n, coefficients: coefficients) }
    }

    /// dW_ot += k·D_ot + c1·(w_o·P)_t + c0·S_t, with D summed over the batch in sample order.
    private func addWeightGradient(batch n: Int, coefficients: [(k: Float, c1: Float, c0: Float)]) {
        let c = convolution.outChannels
        var d = [Float](repeating: 0, count: 9 * c)
        for s in 0..<n { for i in 0..<(9 * c) { d[i] += sampleGradients[s * 9 * c + i] } }
        let weight = convolution.weight.value.data, dW = convolution.weight.grad.data
        for o in 0..<c {
            let (k, c1, c0) = coefficients[o]
            for j in 0..<9 {
                var wp = 0.0
                for i in 0..<9 { wp += Double(weight[9 * o + i]) * tapProducts[9 * i + j] }
                dW[9 * o + j] += Float(Double(k) * Double(d[j * c + o]) + Double(c1) * wp + Double(c0) * tapSums[j])
            }
        }
    }
}
