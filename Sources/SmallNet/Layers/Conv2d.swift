// 2-D convolution by im2col + GEMM, a few samples at a time, samples spread over threads; 3×3
// layers by Winograd's F(2×2, 3×3) (`WinogradConvolution`).
import SmallNetKernels

/// y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, c] (cross-correlation, as PyTorch's `nn.Conv2d`).
///
/// Shape: input (N, Cin, H, W); output (N, Cout, Ho, Wo) with Ho = (H + 2p − kh)/s + 1.
/// Parameters: `weight` (Cout, Cin, kh, kw), `bias` (Cout). Init: Kaiming normal with
/// fan_in = Cin·kh·kw, bias 0 (or PyTorch's default U(±1/√fan_in)).
///
/// A few samples at a time (enough for ~400 output columns): col = im2col(x) (Cin·kh·kw, S·Ho·Wo);
/// y = W·col. Backward: dWᵀ += col·dyᵀ, dcol = Wᵀ·dy, dx = col2im(dcol). Weight gradients are
/// summed per fixed sample group, then over the groups in order, so they do not depend on the
/// thread count.
///
/// A 3×3 kernel with stride 1, padding 1 and 20 or more input channels takes Winograd's
/// F(2×2, 3×3) instead (`WinogradConvolution`: 2.25 times fewer multiply-adds, equal up to
/// rounding); a single-channel input with "same" padding, a direct convolution of shifted copies.
///
/// Dilation d spaces the kernel taps d pixels apart (Ho = (H + 2p − d·(k − 1) − 1)/s + 1);
/// groups g split the channels into g independent convolutions of Cin/g → Cout/g (depthwise
/// when g = Cin), with `weight` (Cout, Cin/g, kh, kw) as in PyTorch. Those take a general
/// im2col + GEMM path per sample and group; dilation 1 with one group keeps the path above.
public final class Conv2d: Layer {
    public let inChannels, outChannels: Int
    public let kernelSize: Int
    public let stride, padding: Int
    public let dilation, groups: Int
    public let weight: Parameter
    public let bias: Parameter?

    /// The last forward pass's output (N, Cout, H', W').
    let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var input: Tensor?
    /// Per sample group: im2col buffer, its gradient, y or dy of a chunk as (Cout, S·P), dyᵀ
    /// (general path), partial dWᵀ and partial db; dy of a chunk packed as the B operand of
    /// dcol = Wᵀ·dy and, transposed, of dWᵀ += col·dyᵀ (`Kernels.packB`).
    private var columns: [Tensor] = [], dColumns: [Tensor] = [], chunkOut: [Tensor] = [], dOutT: [Tensor] = []
    private var dWeightT: [Tensor] = [], dBias: [Tensor] = []
    private var packedGradient: [Tensor] = [], packedGradientT: [Tensor] = []
    private let weightT = Tensor(uncheckedShape: [0], count: 0)
    /// The im2col matrices of every chunk of the last training forward, kept for backward:
    /// the chunk of samples s..<s+S sits at s·K·P as (K, S·P).
    private let savedColumns = Tensor(uncheckedShape: [0], count: 0)
    private var savedColumnsValid = false
    /// The Winograd path's state, for a 3×3 kernel, stride 1, padding 1 and several input channels.
    private let winograd: WinogradConvolution?
    /// Whether the layer takes the Winograd path where its shape allows: by default with at least
    /// `WinogradConvolution.minimumInputChannels` input channels. Off, im2col + GEMM, the
    /// reference the tests compare it with; tests turn it on for fewer channels too.
    var winogradEnabled: Bool

    /// Padding value asking for "same" padding (PyTorch's `padding="same"`): stride 1 and
    /// p = d·(k − 1)/2 on every side, so the output has the input's height and width.
    public static let samePadding = -1

    /// - Parameters:
    ///   - padding: zeros on each side, in 0..<d·(k − 1) + 1, or `Conv2d.samePadding`.
    ///   - dilation: spacing of the kernel taps, 1...15.
    ///   - groups: channel groups, dividing both channel counts.
    /// - Throws: `invalidArgument` for non-positive sizes, stride < 1, padding out of range, a
    ///   "same" padding with stride > 1 or an even d·(k − 1) (asymmetric), or groups that do not
    ///   divide the channel counts.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1,
                bias: Bool = true, initialization: WeightInit = .kaimingNormal, generator: inout RandomGenerator) throws {
        try require(inChannels > 0 && outChannels > 0, "Conv2d channels must be positive, got \(inChannels) → \(outChannels)")
        try require(kernelSize > 0 && kernelSize <= 15, "Conv2d kernel size must be in 1...15, got \(kernelSize)")
        try require(stride >= 1 && stride <= 15, "Conv2d stride must be in 1...15, got \(stride)")
        try require(dilation >= 1 && dilation <= 15, "Conv2d dilation must be in 1...15, got \(dilation)")
        try require(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
                    "Conv2d groups must divide both channel counts (\(inChannels), \(outChannels)), got \(groups)")
        let span = dilation * (kernelSize - 1) + 1
        var padding = padding
        if padding == Conv2d.samePadding {
            try require(stride == 1, "Conv2d \"same\" padding needs stride 1, got \(stride)")
            try require((span - 1) % 2 == 0,
                        "Conv2d \"same\" padding needs an odd dilation·(kernel − 1) + 1 (symmetric padding), got \(span)")
            padding = (span - 1) / 2
        }
        try require(padding >= 0 && padding < span,
                    "Conv2d padding must be in 0..<\(span) (dilation·(kernel − 1) + 1) or \"same\", got \(padding)")
        _ = try Tensor.elementCount([outChannels, inChannels / groups, kernelSize, kernelSize])
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        weight = Parameter(name: "weight", shape: [outChannels, inChannels / groups, kernelSize, kernelSize])
        self.bias = bias ? Parameter(name: "bias", shape: [outChannels]) : nil
        let winogradShape = kernelSize == 3 && stride == 1 && padding == 1 && dilation == 1 && groups == 1
        winograd = winogradShape && inChannels > 1 ? WinogradConvolution(inChannels: inChannels, outChannels: outChannels) : nil
        winogradEnabled = inChannels >= WinogradConvolution.minimumInputChannels
        resetParameters(initialization, generator: &generator)
    }

    public func resetParameters(_ scheme: WeightInit, generator: inout RandomGenerator) {
        scheme.initialize(weight: weight.value, bias: bias?.value, fanIn: inChannels / groups * kernelSize * kernelSize,
                          generator: &generator)
    }

    public var kind: String { "conv2d" }
    public func forwardFLOPs(inputShape: [Int]) -> Int {
        if isGeneral { let g = generalGeometry(inputShape); return 2 * g.patchSize * outChannels * g.outPlane }
        let g = geometry(inputShape)
        return 2 * g.patchSize * outChannels * g.outPlane
    }
    /// The settings; "dilation" and "groups" appear only when not 1 (absent means 1).
    public var spec: JSON {
        var fields: [(String, JSON)] = [
            ("kind", .string(kind)), ("in", .number(inChannels)), ("out", .number(outChannels)),
            ("kernel", .number(kernelSize)), ("stride", .number(stride)), ("padding", .number(padding)),
            ("bias", .bool(bias != nil))]
        if dilation != 1 { fields.append(("dilation", .number(dilation))) }
        if groups != 1 { fields.append(("groups", .number(groups))) }
        return .object(fields)
    }
    public var summary: String {
        "Conv2d(\(inChannels) → \(outChannels), \(kernelSize)×\(kernelSize)" + (stride != 1 ? ", stride \(stride)" : "")
            + (padding != 0 ? ", pad \(padding)" : "") + (dilation != 1 ? ", dilation \(dilation)" : "")
            + (groups != 1 ? ", groups \(groups)" : "") + (bias == nil ? ", no bias" : "") + ")"
    }
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    func geometry(_ shape: [Int]) -> WindowGeometry {
        WindowGeometry(channels: inChannels, height: shape[shape.count - 2], width: shape[shape.count - 1],
                       kernelHeight: kernelSize, kernelWidth: kernelSize, stride: stride, padding: padding)
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[0] == inChannels else {
            throw SmallNetError.shapeMismatch("\(summary) expects (\(inChannels), H, W) inputs, got \(inputShape)")
        }
        if isGeneral {
            let g = generalGeometry(inputShape)
            guard g.height + 2 * padding >= g.span, g.width + 2 * padding >= g.span else {
                throw SmallNetError.shapeMismatch("\(summary): input \(inputShape) is smaller than the dilated kernel")
            }
            return [outChannels, g.outHeight, g.outWidth]
        }
        let g = geometry(inputShape)
        guard g.height + 2 * padding >= kernelSize, g.width + 2 * padding >= kernelSize else {
            throw SmallNetError.shapeMismatch("\(summary): input \(inputShape) is smaller than the kernel")
        }
        return [outChannels, g.outHeight, g.outWidth]
    }

    /// Samples per GEMM: enough for about 400 output columns.
    private func chunkSize(_ g: WindowGeometry) -> Int { Swift.max(1, Swift.min(8, 400 / g.outPlane)) }

    /// The rows of the im2col matrix (C·kh·kw) in blocks of whole input channels, about 72 rows
    /// each: a block of a chunk's col and of its gradient (72 × 400 floats) stays in L2 between the
    /// products that read and write it.
    private func rowBlocks(_ g: WindowGeometry) -> [Range<Int>] {
        let area = g.kernelHeight * g.kernelWidth, step = Swift.max(1, 72 / area) * area
        return Swift.stride(from: 0, to: g.patchSize, by: step).map { $0..<Swift.min($0 + step, g.patchSize) }
    }

    /// Whether training keeps the im2col matrices for backward rather than building them again.
    /// Measured on the CNNs' layers: for 7×7 maps (short rows, many edge taps) rebuilding costs
    /// more than keeping; for 14×14 and larger, writing all of them out to memory costs more
    /// than rebuilding them in cache.
    private func keepsColumns(_ g: WindowGeometry) -> Bool { g.outPlane < 100 }

    /// Grows the per-group scratch tensors to `groups` entries of the needed sizes.
    private func prepareScratch(_ g: WindowGeometry, groups: Int, backward: Bool) {
        let columnsPerChunk = chunkSize(g) * g.outPlane
        // The im2col matrix of a chunk, as it is or packed (`packedIm2col`).
        growScratch(&columns, groups: groups,
                    shape: [Swift.max(g.patchSize * columnsPerChunk, kernels.packedBCount(k: g.patchSize, n: columnsPerChunk))])
        growScratch(&chunkOut, groups: groups, shape: [outChannels, columnsPerChunk])
        if backward {
            growScratch(&dColumns, groups: groups, shape: [rowBlocks(g)[0].count, columnsPerChunk])
            growScratch(&packedGradient, groups: groups, shape: [kernels.packedBCount(k: outChannels, n: columnsPerChunk)])
            growScratch(&packedGradientT, groups: groups, shape: [kernels.packedBCount(k: columnsPerChunk, n: outChannels)])
            growScratch(&dWeightT, groups: groups, shape: [g.patchSize, outChannels])
            growScratch(&dBias, groups: groups, shape: [outChannels])
        }
    }

    /// Single-channel input with "same" padding (a CNN's first layer): direct convolution
    /// from shifted copies of each image instead of im2col + GEMM.
    private func directPlanes(_ g: WindowGeometry) -> ShiftedPlanes? {
        guard inChannels == 1, g.isSameShape else { return nil }
        return ShiftedPlanes(height: g.height, width: g.width, kernel: kernelSize)
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        if isGeneral { return generalForward(input, context: context) }
        let n = batchSize(input)
        let g = geometry(input.shape)
        self.input = input
        output.resize([n, outChannels, g.outHeight, g.outWidth])
        if let planes = directPlanes(g) {
            directForward(planes, input: input, batch: n, context: context)
            savedColumnsValid = false
            return output
        }
        if let winograd, winogradEnabled {
            winograd.forward(weight: weight, bias: bias?.value, input: input.data, height: g.height, width: g.width, batch: n,
                             output: output.data, pool: context.pool)
            savedColumnsValid = false
            return output
        }
        prepareScratch(g, groups: sampleGroupCount(n), backward: false)
        let inSize = g.channels * g.inPlane, outSize = outChannels * g.outPlane, plane = g.outPlane
        let w = weight.value.data, b = bias?.value.data, x = input.data, y = output.data, cout = outChannels
        let keep = context.training && keepsColumns(g)
        if keep { savedColumns.resize([n * g.patchSize * plane]) }
        let saved = savedColumns.data
        // Columns not kept for backward go straight into the GEMM's packed B where the kernels can.
        let packs = !keep && g.shiftsWithinPlane && g.inPlane <= WindowGeometry.smallPlane
        forEachSampleChunk(batch: n, size: chunkSize(g), pool: context.pool) { group, chunk, _ in
            let ld = chunk.count * plane
            // A single sample is written in place; a chunk goes through (Cout, S·P) scratch.
            let out = chunk.count == 1 ? y + chunk.lowerBound * outSize : self.chunkOut[group].data
            if let b { for o in 0..<cout { (out + o * ld).update(repeating: b[o], count: ld) } }
            if packs {
                let packed = self.columns[group].data
                kernels.packedIm2col(g, images: x + chunk.lowerBound * inSize, samples: chunk.count, imageStride: inSize,
                                     into: packed)
                gemm(GemmOperands(m: cout, n: ld, k: g.patchSize, a: w, lda: g.patchSize, b: packed, ldb: 0, c: out, ldc: ld,
                                  accumulate: b != nil, bPacked: true), pool: nil)
            } else {
                let col = keep ? saved + chunk.lowerBound * g.patchSize * plane : self.columns[group].data
                for (j, s) in chunk.enumerated() { kernels.im2col(g, image: x + s * inSize, col: col + j * plane, ld: ld) }
                gemm(m: cout, n: ld, k: g.patchSize, a: w, lda: g.patchSize, b: col, ldb: ld, c: out, ldc: ld,
                     accumulate: b != nil, pool: nil)
            }
            if chunk.count > 1 {
                for (j, s) in chunk.enumerated() {
                    for o in 0..<cout { kernels.copy(y + s * outSize + o * plane, out + o * ld + j * plane, count: plane) }
                }
            }
        }
        savedColumnsValid = keep
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard let input else { return nil }
        if isGeneral { return generalBackward(dOut, input: input, needInputGradient: needInputGradient, context: context) }
        let n = batchSize(dOut)
        let g = geometry(input.shape)
        if !needInputGradient, let planes = directPlanes(g) {
            directBackward(planes, input: input, dOut: dOut, batch: n, context: context)
            return nil
        }
        if let winograd, winogradEnabled {
            if needInputGradient { dInput.resize(input.shape) }
            winograd.backward(weight: weight, bias: bias, input: input.data, height: g.height, width: g.width, batch: n,
                              dOut: dOut.data, dInput: needInputGradient ? dInput.data : nil, pool: context.pool)
            return needInputGradient ? dInput : nil
        }
        let groups = sampleGroupCount(n)
        prepareScratch(g, groups: groups, backward: true)
        let inSize = g.channels * g.inPlane, outSize = outChannels * g.outPlane, plane = g.outPlane
        let k = g.patchSize, cout = outChannels
        if needInputGradient {
            dInput.resize(input.shape)
            weightT.resize([k, cout])
            transpose(rows: cout, cols: k, src: weight.value.data, lds: k, dst: weightT.data, ldd: cout)
        }
        // Columns not kept by the forward pass are built again, chunk by chunk.
        let recompute = !savedColumnsValid
        let x = input.data, dy = dOut.data, wT = weightT.data, dx = dInput.data, saved = savedColumns.data
        let hasBias = bias != nil, blocks = rowBlocks(g)
        forEachSampleChunk(batch: n, size: chunkSize(g), pool: context.pool) { group, chunk, _ in
            let ld = chunk.count * plane
            let col = recompute ? self.columns[group].data : saved + chunk.lowerBound * k * plane
            let dCol = self.dColumns[group].data, db = self.dBias[group].data, dWT = self.dWeightT[group].data
            let dyPacked = self.packedGradient[group].data, dyPackedT = self.packedGradientT[group].data
            // The group's partial sums start from zero at its first chunk (zeroed on its thread).
            if chunk.lowerBound == sampleGroup(group, of: groups, batch: n).lowerBound {
                self.dWeightT[group].fill(0)
                self.dBias[group].fill(0)
            }
            // dy of the chunk, (Cout, S·P) as the samples' (Cout, P) side by side, packed once for
            // both products and every row block: as is, and transposed as (S·P, Cout).
            let grad = dy + chunk.lowerBound * outSize
            kernels.packB(k: ld, n: cout, b: grad, ldb: plane, transposed: true, segment: plane, segmentStride: outSize,
                          into: dyPackedT)
            if needInputGradient {
                kernels.packB(k: cout, n: ld, b: grad, ldb: plane, transposed: false, segment: plane, segmentStride: outSize,
                              into: dyPacked)
            }
            if recompute {
                for (j, s) in chunk.enumerated() { kernels.im2col(g, image: x + s * inSize, col: col + j * plane, ld: ld) }
            }
            if hasBias {
                // Σ dy over each (Cout, S·P) row in one sum, as it always was.
                let dyChunk = chunk.count == 1 ? grad : self.chunkOut[group].data
                if chunk.count > 1 {
                    for j in 0..<chunk.count {
                        for o in 0..<cout { kernels.copy(dyChunk + o * ld + j * plane, grad + j * outSize + o * plane, count: plane) }
                    }
                }
                for o in 0..<cout { db[o] += kernels.sum(dyChunk + o * ld, count: ld) }
            }
            if needInputGradient { for s in chunk { (dx + s * inSize).update(repeating: 0, count: inSize) } }
            // By blocks of whole input channels' rows of col, so that each block of col (and of
            // its gradient) is read again while in cache:
            // dWᵀ (K, Cout) += col (K, S·P) · dyᵀ (S·P, Cout);  dcol (K, S·P) = Wᵀ (K, Cout) · dy (Cout, S·P);
            // dx = col2im(dcol).
            for rows in blocks {
                gemm(GemmOperands(m: rows.count, n: cout, k: ld, a: col + rows.lowerBound * ld, lda: ld, b: dyPackedT, ldb: 0,
                                  c: dWT + rows.lowerBound * cout, ldc: cout, accumulate: true, bPacked: true), pool: nil)
                guard needInputGradient else { continue }
                gemm(GemmOperands(m: rows.count, n: ld, k: cout, a: wT + rows.lowerBound * cout, lda: cout, b: dyPacked, ldb: 0,
                                  c: dCol, ldc: ld, accumulate: false, bPacked: true), pool: nil)
                let area = g.kernelHeight * g.kernelWidth, channels = rows.lowerBound / area..<rows.upperBound / area
                let block = WindowGeometry(channels: channels.count, height: g.height, width: g.width,
                                           kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth, stride: g.stride,
                                           padding: g.padding)
                for (j, s) in chunk.enumerated() {
                    kernels.col2im(block, col: dCol + j * plane, ld: ld, image: dx + s * inSize + channels.lowerBound * g.inPlane)
                }
            }
        }
        addGroupGradients(groups: groups, pool: context.pool)
        return needInputGradient ? dInput : nil
    }

    /// Sums the per-group partials dWᵀ (K, Cout) and db in group order, then dW += (Σ dWᵀ)ᵀ; the
    /// rows of dWᵀ spread over the pool when there are many (each element summed in group order).
    private func addGroupGradients(groups: Int, pool: ThreadPool?) {
        let cout = outChannels, k = dWeightT[0].count / cout
        let total = dWeightT[0].data, partials = dWeightT[1..<groups].map(\.data), dW = weight.grad.data
        forEachRange(count: k, pool: k * cout >= valuesWorthThreads ? pool : nil) { rows in
            let first = rows.lowerBound * cout, count = rows.count * cout
            for partial in partials { kernels.addInPlace(total + first, partial + first, count: count) }
            for o in 0..<cout { for j in rows { dW[o * k + j] += total[j * cout + o] } }
        }
        if let bias {
            for group in 0..<groups { kernels.addInPlace(bias.grad.data, dBias[group].data, count: cout) }
        }
    }

    // MARK: Direct path for single-channel inputs

    private func directForward(_ planes: ShiftedPlanes, input: Tensor, batch n: Int, context: ExecutionContext) {
        growScratch(&columns, groups: sampleGroupCount(n), shape: [planes.scratchCount])
        let x = input.data, y = output.data, w = weight.value.data, b = bias?.value.data
        let outSize = outChannels * planes.pixels
        forEachSampleGroup(batch: n, pool: context.pool) { group, samples in
            let scratch = self.columns[group].data
            for s in samples {
                kernels.fillShiftedPlanes(planes, image: x + s * planes.pixels, planes: scratch)
                kernels.directConvolutionForward(planes, planes: scratch, weight: w, bias: b, outChannels: self.outChannels,
                                         output: y + s * outSize)
            }
        }
    }

    /// Whether inputs of `inputShape` (C, H, W) take the direct path (a single input channel,
    /// "same" output), which `ConvolutionBlock` runs with its block.
    func takesDirectPath(inputShape: [Int]) -> Bool {
        !isGeneral && inputShape.count == 3 && directPlanes(geometry(inputShape)) != nil
    }

    /// Weight (and bias) gradients only: the input gradient of a first layer is not needed.
    /// Each image's sums are dot products over its pixels in 16 lanes
    /// (`directConvolutionWeightGradient`), added per sample group in sample order; the im2col +
    /// GEMM path sums the same products pixel by pixel (equal up to rounding).
    private func directBackward(_ planes: ShiftedPlanes, input: Tensor, dOut: Tensor, batch n: Int,
                                context: ExecutionContext) {
        let groups = sampleGroupCount(n)
        let k = kernelSize * kernelSize, cout = outChannels, pixels = planes.pixels
        growScratch(&columns, groups: groups, shape: [planes.scratchCount])
        growScratch(&dWeightT, groups: groups, shape: [k, cout])
        growScratch(&dBias, groups: groups, shape: [cout])
        for group in 0..<groups { dWeightT[group].fill(0); dBias[group].fill(0) }
        let x = input.data, dy = dOut.data, sampleSize = cout * pixels
        let hasBias = bias != nil
        forEachSampleGroup(batch: n, pool: context.pool) { group, samples in
            let scratch = self.columns[group].data
            let dWT = self.dWeightT[group].data, db = self.dBias[group].data
            for s in samples {
                let grad = dy + s * sampleSize
                kernels.directConvolutionWeightGradient(planes, image: x + s * pixels, scratch: scratch, dOut: grad,
                                                        outChannels: cout, dWeightT: dWT)
                if hasBias { for o in 0..<cout { db[o] += kernels.sum(grad + o * pixels, count: pixels) } }
            }
        }
        addGroupGradients(groups: groups, pool: context.pool)
    }

    // MARK: General path: dilation > 1 or groups > 1

    /// Whether the layer takes the general path (dilation or channel groups).
    private var isGeneral: Bool { dilation != 1 || groups != 1 }

    /// The window of one channel group: Cin/g channels, dilated taps.
    func generalGeometry(_ shape: [Int]) -> DilatedWindow {
        DilatedWindow(channels: inChannels / groups, height: shape[shape.count - 2], width: shape[shape.count - 1],
                      kernel: kernelSize, stride: stride, padding: padding, dilation: dilation)
    }

    /// Per sample and group: col = im2col(x_g) (K, P); y_g (Cout/g, P) = W_g (Cout/g, K) · col + b_g.
    private func generalForward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input), g = generalGeometry(input.shape)
        self.input = input
        output.resize([n, outChannels, g.outHeight, g.outWidth])
        growScratch(&columns, groups: sampleGroupCount(n), shape: [g.patchSize, g.outPlane])
        let k = g.patchSize, plane = g.outPlane, coutG = outChannels / groups, groupCount = groups
        let inSize = inChannels * g.inPlane, outSize = outChannels * plane
        let w = weight.value.data, b = bias?.value.data, x = input.data, y = output.data
        forEachSampleGroup(batch: n, pool: context.pool) { sampleGroup, samples in
            let col = self.columns[sampleGroup].data
            for s in samples {
                for gi in 0..<groupCount {
                    kernels.dilatedIm2col(g, image: x + s * inSize + gi * g.channels * g.inPlane, col: col)
                    let out = y + s * outSize + gi * coutG * plane
                    if let b { for o in 0..<coutG { (out + o * plane).update(repeating: b[gi * coutG + o], count: plane) } }
                    // y_g (Cout/g, P) (+)= W_g (Cout/g, K) · col (K, P)
                    gemm(m: coutG, n: plane, k: k, a: w + gi * coutG * k, lda: k, b: col, ldb: plane,
                         c: out, ldc: plane, accumulate: b != nil, pool: nil)
                }
            }
        }
        savedColumnsValid = false
        return output
    }

    /// Per sample and group: dW_g += dy_g · colᵀ, db += Σ dy, dcol = W_gᵀ · dy_g, dx_g = col2im(dcol).
    /// Weight gradients are summed per fixed sample group, then over the groups in order.
    private func generalBackward(_ dOut: Tensor, input: Tensor, needInputGradient: Bool,
                                 context: ExecutionContext) -> Tensor? {
        let n = batchSize(dOut), g = generalGeometry(input.shape), sampleGroups = sampleGroupCount(n)
        let k = g.patchSize, plane = g.outPlane, coutG = outChannels / groups, groupCount = groups, cout = outChannels
        let inSize = inChannels * g.inPlane, outSize = outChannels * plane
        growScratch(&columns, groups: sampleGroups, shape: [k, plane])
        growScratch(&dColumns, groups: sampleGroups, shape: [k, plane])
        growScratch(&dOutT, groups: sampleGroups, shape: [plane, k])
        growScratch(&dWeightT, groups: sampleGroups, shape: [weight.value.count])
        growScratch(&dBias, groups: sampleGroups, shape: [cout])
        for group in 0..<sampleGroups { dWeightT[group].fill(0); dBias[group].fill(0) }
        if needInputGradient {
            dInput.resize(input.shape)
            // Wᵀ per group: (K, Cout/g) blocks one after another.
            weightT.resize([weight.value.count])
            for gi in 0..<groups {
                transpose(rows: coutG, cols: k, src: weight.value.data + gi * coutG * k, lds: k,
                          dst: weightT.data + gi * coutG * k, ldd: coutG)
            }
        }
        let x = input.data, dy = dOut.data, wT = weightT.data, dx = dInput.data, hasBias = bias != nil
        forEachSampleGroup(batch: n, pool: context.pool) { sampleGroup, samples in
            let col = self.columns[sampleGroup].data, dCol = self.dColumns[sampleGroup].data
            let colT = self.dOutT[sampleGroup].data, dW = self.dWeightT[sampleGroup].data, db = self.dBias[sampleGroup].data
            for s in samples {
                if needInputGradient { (dx + s * inSize).update(repeating: 0, count: inSize) }
                for gi in 0..<groupCount {
                    let image = x + s * inSize + gi * g.channels * g.inPlane
                    let grad = dy + s * outSize + gi * coutG * plane
                    kernels.dilatedIm2col(g, image: image, col: col)
                    transpose(rows: k, cols: plane, src: col, lds: plane, dst: colT, ldd: k)
                    // dW_g (Cout/g, K) += dy_g (Cout/g, P) · colᵀ (P, K);  db += Σ dy
                    gemm(m: coutG, n: k, k: plane, a: grad, lda: plane, b: colT, ldb: k, c: dW + gi * coutG * k, ldc: k,
                         accumulate: true, pool: nil)
                    if hasBias { for o in 0..<coutG { db[gi * coutG + o] += kernels.sum(grad + o * plane, count: plane) } }
                    guard needInputGradient else { continue }
                    // dcol (K, P) = W_gᵀ (K, Cout/g) · dy_g (Cout/g, P);  dx_g += col2im(dcol)
                    gemm(m: k, n: plane, k: coutG, a: wT + gi * coutG * k, lda: coutG, b: grad, ldb: plane,
                         c: dCol, ldc: plane, accumulate: false, pool: nil)
                    kernels.dilatedCol2im(g, col: dCol, image: dx + s * inSize + gi * g.channels * g.inPlane)
                }
            }
        }
        for group in 1..<sampleGroups { kernels.addInPlace(dWeightT[0].data, dWeightT[group].data, count: weight.value.count) }
        kernels.addInPlace(weight.grad.data, dWeightT[0].data, count: weight.value.count)
        if let bias { for group in 0..<sampleGroups { kernels.addInPlace(bias.grad.data, dBias[group].data, count: cout) } }
        return needInputGradient ? dInput : nil
    }
}

/// Grows `list` to at least `groups` scratch tensors and gives the first `groups` the `shape`.
func growScratch(_ list: inout [Tensor], groups: Int, shape: [Int]) {
    while list.count < groups { list.append(Tensor(uncheckedShape: [0], count: 0)) }
    for t in list.prefix(groups) { t.resize(shape) }
}
