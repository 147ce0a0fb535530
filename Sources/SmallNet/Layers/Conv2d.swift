// 2-D convolution by im2col + GEMM, one sample at a time, samples spread over threads.

/// y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, c] (cross-correlation, as PyTorch's `nn.Conv2d`).
///
/// Shape: input (N, Cin, H, W); output (N, Cout, Ho, Wo) with Ho = (H + 2p − kh)/s + 1.
/// Parameters: `weight` (Cout, Cin, kh, kw), `bias` (Cout). Init: Kaiming normal with
/// fan_in = Cin·kh·kw, bias 0 (or PyTorch's default U(±1/√fan_in)).
///
/// Per sample: col = im2col(x) (Cin·kh·kw, Ho·Wo); y = W·col. Backward: dWᵀ += col·dyᵀ,
/// dcol = Wᵀ·dy, dx = col2im(dcol). Weight gradients are summed per fixed sample group, then
/// over the groups in order, so they do not depend on the thread count.
public final class Conv2d: Layer {
    public let inChannels, outChannels: Int
    public let kernelSize: Int
    public let stride, padding: Int
    public let weight: Parameter
    public let bias: Parameter?

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var input: Tensor?
    /// Per sample group: im2col buffer, its gradient, dyᵀ, partial dWᵀ and partial db.
    private var columns: [Tensor] = [], dColumns: [Tensor] = [], dOutT: [Tensor] = []
    private var dWeightT: [Tensor] = [], dBias: [Tensor] = []
    private let weightT = Tensor(uncheckedShape: [0], count: 0)

    /// - Throws: `invalidArgument` for non-positive sizes, stride < 1 or padding < 0.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, initialization: WeightInit = .kaimingNormal, generator: inout RandomGenerator) throws {
        try require(inChannels > 0 && outChannels > 0, "Conv2d channels must be positive, got \(inChannels) → \(outChannels)")
        try require(kernelSize > 0 && kernelSize <= 15, "Conv2d kernel size must be in 1...15, got \(kernelSize)")
        try require(stride >= 1 && stride <= 15, "Conv2d stride must be in 1...15, got \(stride)")
        try require(padding >= 0 && padding < kernelSize, "Conv2d padding must be in 0..<kernel size, got \(padding)")
        _ = try Tensor.elementCount([outChannels, inChannels, kernelSize, kernelSize])
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        weight = Parameter(name: "weight", shape: [outChannels, inChannels, kernelSize, kernelSize])
        self.bias = bias ? Parameter(name: "bias", shape: [outChannels]) : nil
        resetParameters(initialization, generator: &generator)
    }

    public func resetParameters(_ scheme: WeightInit, generator: inout RandomGenerator) {
        scheme.initialize(weight: weight.value, bias: bias?.value, fanIn: inChannels * kernelSize * kernelSize,
                          generator: &generator)
    }

    public var kind: String { "conv2d" }
    public var spec: JSON {
        .object([("kind", .string(kind)), ("in", .number(inChannels)), ("out", .number(outChannels)),
                 ("kernel", .number(kernelSize)), ("stride", .number(stride)), ("padding", .number(padding)),
                 ("bias", .bool(bias != nil))])
    }
    public var summary: String {
        "Conv2d(\(inChannels) → \(outChannels), \(kernelSize)×\(kernelSize)" + (stride != 1 ? ", stride \(stride)" : "")
            + (padding != 0 ? ", pad \(padding)" : "") + (bias == nil ? ", no bias" : "") + ")"
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
        let g = geometry(inputShape)
        guard g.height + 2 * padding >= kernelSize, g.width + 2 * padding >= kernelSize else {
            throw SmallNetError.shapeMismatch("\(summary): input \(inputShape) is smaller than the kernel")
        }
        return [outChannels, g.outHeight, g.outWidth]
    }

    /// Grows the per-group scratch tensors to `groups` entries of the needed sizes.
    private func prepareScratch(_ g: WindowGeometry, groups: Int, backward: Bool) {
        func ensure(_ list: inout [Tensor], _ shape: [Int]) {
            while list.count < groups { list.append(Tensor(uncheckedShape: [0], count: 0)) }
            for t in list.prefix(groups) { t.resize(shape) }
        }
        ensure(&columns, [g.patchSize, g.outPlane])
        if backward {
            ensure(&dColumns, [g.patchSize, g.outPlane])
            ensure(&dOutT, [g.outPlane, outChannels])
            ensure(&dWeightT, [g.patchSize, outChannels])
            ensure(&dBias, [outChannels])
        }
    }

    /// True when im2col is the identity (1×1 kernel, stride 1, no padding).
    private var isPointwise: Bool { kernelSize == 1 && stride == 1 && padding == 0 }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input)
        let g = geometry(input.shape)
        self.input = input
        output.resize([n, outChannels, g.outHeight, g.outWidth])
        let groups = sampleGroupCount(n)
        prepareScratch(g, groups: groups, backward: false)
        let inSize = g.channels * g.inPlane, outSize = outChannels * g.outPlane, plane = g.outPlane
        let w = weight.value.data, b = bias?.value.data, x = input.data, y = output.data
        forEachSampleGroup(batch: n, pool: context.pool) { group, samples in
            let col = self.columns[group].data
            for s in samples {
                let image = x + s * inSize, out = y + s * outSize
                let patches: UnsafePointer<Float>
                if self.isPointwise { patches = UnsafePointer(image) } else {
                    im2col(g, image: image, col: col)
                    patches = UnsafePointer(col)
                }
                if let b { for o in 0..<self.outChannels { (out + o * plane).update(repeating: b[o], count: plane) } }
                gemm(m: self.outChannels, n: plane, k: g.patchSize, a: w, lda: g.patchSize, b: patches, ldb: plane,
                     c: out, ldc: plane, accumulate: b != nil, pool: nil)
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard let input else { return nil }
        let n = batchSize(dOut)
        let g = geometry(input.shape)
        let groups = sampleGroupCount(n)
        prepareScratch(g, groups: groups, backward: true)
        let inSize = g.channels * g.inPlane, outSize = outChannels * g.outPlane, plane = g.outPlane
        let k = g.patchSize, cout = outChannels
        if needInputGradient {
            dInput.resize(input.shape)
            weightT.resize([k, cout])
            transpose(rows: cout, cols: k, src: weight.value.data, lds: k, dst: weightT.data, ldd: cout)
        }
        let x = input.data, dy = dOut.data, wT = weightT.data, dx = dInput.data
        let hasBias = bias != nil
        forEachSampleGroup(batch: n, pool: context.pool) { group, samples in
            let col = self.columns[group].data, dCol = self.dColumns[group].data
            let dyT = self.dOutT[group].data, dWT = self.dWeightT[group].data, db = self.dBias[group].data
            self.dWeightT[group].fill(0)
            self.dBias[group].fill(0)
            for s in samples {
                let image = x + s * inSize, grad = dy + s * outSize
                let patches: UnsafePointer<Float>
                if self.isPointwise { patches = UnsafePointer(image) } else {
                    im2col(g, image: image, col: col)
                    patches = UnsafePointer(col)
                }
                // dWᵀ (K, Cout) += col (K, P) · dyᵀ (P, Cout)
                transpose(rows: cout, cols: plane, src: grad, lds: plane, dst: dyT, ldd: cout)
                gemm(m: k, n: cout, k: plane, a: patches, lda: plane, b: dyT, ldb: cout, c: dWT, ldc: cout,
                     accumulate: true, pool: nil)
                if hasBias { for o in 0..<cout { db[o] += sum(grad + o * plane, count: plane) } }
                guard needInputGradient else { continue }
                // dcol (K, P) = Wᵀ (K, Cout) · dy (Cout, P); dx = col2im(dcol)
                let dImage = dx + s * inSize
                if self.isPointwise {
                    gemm(m: k, n: plane, k: cout, a: wT, lda: cout, b: grad, ldb: plane, c: dImage, ldc: plane,
                         accumulate: false, pool: nil)
                } else {
                    gemm(m: k, n: plane, k: cout, a: wT, lda: cout, b: grad, ldb: plane, c: dCol, ldc: plane,
                         accumulate: false, pool: nil)
                    dImage.update(repeating: 0, count: inSize)
                    col2im(g, col: dCol, image: dImage)
                }
            }
        }
        // Sum the group partials in order, then dW += (Σ dWᵀ)ᵀ.
        let total = dWeightT[0]
        for group in 1..<groups { addInPlace(total.data, dWeightT[group].data, count: total.count) }
        let dW = weight.grad.data
        for o in 0..<cout { for j in 0..<k { dW[o * k + j] += total.data[j * cout + o] } }
        if let bias {
            for group in 0..<groups { addInPlace(bias.grad.data, dBias[group].data, count: cout) }
        }
        return needInputGradient ? dInput : nil
    }
}
