// 2-D max pooling.
import SmallNetKernels

/// y[n, c, oy, ox] = max over the k×k window at (oy·s, ox·s) of x[n, c] (no padding, floor
/// rounding, as PyTorch's `nn.MaxPool2d(k, s)`). Backward routes each dy to the window's arg-max
/// (the first one in row-major order on ties).
///
/// Shape: input (N, C, H, W); output (N, C, (H − k)/s + 1, (W − k)/s + 1).
///
/// With `padding` p (−∞ on each side, p ≤ k/2) or `ceilMode` (rounding up, a last window that
/// starts inside the input or its left padding kept), Ho = ⌊ or ⌈(H + 2p − k)/s⌉ + 1, as
/// PyTorch's `nn.MaxPool2d(k, s, p, ceil_mode=True)`; windows are clipped to the image. Those
/// take a general path; the defaults keep the one above.
public final class MaxPool2d: Layer {
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int
    public let ceilMode: Bool

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    /// For each output element, the position i·k + j of its arg-max within the window.
    private var position: [UInt8] = []
    private var inputShape: [Int] = []

    /// For each output element of the general path, the input position y·W + x of its arg-max.
    private var index: [Int32] = []

    /// - Throws: `invalidArgument` for a kernel or stride outside 1...15 (stride defaults to the
    ///   kernel size) or a padding outside 0...k/2.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) throws {
        self.stride = try poolStride("MaxPool2d", kernelSize: kernelSize, stride: stride)
        try poolPadding("MaxPool2d", kernelSize: kernelSize, padding: padding)
        self.kernelSize = kernelSize
        self.padding = padding
        self.ceilMode = ceilMode
    }

    public var kind: String { "maxpool2d" }
    /// The settings; "padding" and "ceil_mode" appear only when not 0 / false.
    public var spec: JSON {
        var fields: [(String, JSON)] = [("kind", .string(kind)), ("kernel", .number(kernelSize)), ("stride", .number(stride))]
        if padding != 0 { fields.append(("padding", .number(padding))) }
        if ceilMode { fields.append(("ceil_mode", .bool(true))) }
        return .object(fields)
    }
    public var summary: String {
        "MaxPool2d(\(kernelSize)" + (stride != kernelSize ? ", stride \(stride)" : "") + (padding != 0 ? ", pad \(padding)" : "")
            + (ceilMode ? ", ceil" : "") + ")"
    }

    private var window: PoolWindow { PoolWindow(kernel: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode) }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        if window.isGeneral { return try window.outputShape(inputShape, name: summary) }
        return try poolOutputShape(inputShape, kernel: kernelSize, stride: stride, name: summary)
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        if window.isGeneral { return generalForward(input, context: context) }
        let n = batchSize(input), c = input.shape[1], h = input.shape[2], w = input.shape[3]
        let ho = (h - kernelSize) / stride + 1, wo = (w - kernelSize) / stride + 1
        inputShape = input.shape
        output.resize([n, c, ho, wo])
        if position.count < output.count { position = [UInt8](repeating: 0, count: output.count) }
        let k = kernelSize, s = stride, x = input.data, y = output.data
        position.withUnsafeMutableBufferPointer { positions in
            let at = positions.baseAddress!
            forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
                for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                    let src = x + plane * h * w, dst = y + plane * ho * wo, code = at + plane * ho * wo
                    if k == 2 && s == 2 {
                        kernels.maxPool2x2(src, width: w, outHeight: ho, outWidth: wo, output: dst, position: code)
                    } else {
                        kernels.maxPoolPlane(src, width: w, kernel: k, stride: s, outHeight: ho, outWidth: wo,
                                     output: dst, position: code)
                    }
                }
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        if window.isGeneral { return generalBackward(dOut, context: context) }
        dInput.resize(inputShape)
        let n = inputShape[0], c = inputShape[1], h = inputShape[2], w = inputShape[3]
        let ho = dOut.shape[2], wo = dOut.shape[3]
        let k = kernelSize, s = stride, dy = dOut.data, dx = dInput.data
        position.withUnsafeBufferPointer { positions in
            let at = positions.baseAddress!
            forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
                for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                    let grad = dy + plane * ho * wo, code = at + plane * ho * wo, d = dx + plane * h * w
                    if k == 2 && s == 2 {
                        kernels.maxPool2x2Backward(grad, position: code, outHeight: ho, outWidth: wo, height: h, width: w, dInput: d)
                    } else {
                        kernels.maxPoolPlaneBackward(grad, position: code, kernel: k, stride: s, outHeight: ho,
                                                     outWidth: wo, height: h, width: w, dInput: d)
                    }
                }
            }
        }
        return dInput
    }

    // MARK: General path: padding or ceil mode

    /// The maximum over each window clipped to the image, and its input position (the first
    /// one in row-major order on ties).
    private func generalForward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input), c = input.shape[1], h = input.shape[2], w = input.shape[3]
        let win = window, ho = win.outSize(h), wo = win.outSize(w)
        inputShape = input.shape
        output.resize([n, c, ho, wo])
        if index.count < output.count { index = [Int32](repeating: 0, count: output.count) }
        let x = input.data, y = output.data
        index.withUnsafeMutableBufferPointer { indices in
            let at = indices.baseAddress!
            forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
                for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                    let src = x + plane * h * w, dst = y + plane * ho * wo, code = at + plane * ho * wo
                    for oy in 0..<ho {
                        let rows = win.clipped(oy, size: h)
                        for ox in 0..<wo {
                            let cols = win.clipped(ox, size: w)
                            var best = rows.lowerBound * w + cols.lowerBound, value = src[best]
                            for yy in rows { for xx in cols where src[yy * w + xx] > value { value = src[yy * w + xx]; best = yy * w + xx } }
                            dst[oy * wo + ox] = value
                            code[oy * wo + ox] = Int32(truncatingIfNeeded: best)
                        }
                    }
                }
            }
        }
        return output
    }

    /// dx = 0, then each dy added at its window's arg-max.
    private func generalBackward(_ dOut: Tensor, context: ExecutionContext) -> Tensor? {
        dInput.resize(inputShape)
        let n = inputShape[0], c = inputShape[1], h = inputShape[2], w = inputShape[3]
        let outPlane = dOut.shape[2] * dOut.shape[3], dy = dOut.data, dx = dInput.data
        index.withUnsafeBufferPointer { indices in
            let at = indices.baseAddress!
            forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
                for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                    let d = dx + plane * h * w, grad = dy + plane * outPlane, code = at + plane * outPlane
                    d.update(repeating: 0, count: h * w)
                    for o in 0..<outPlane { d[Int(code[o])] += grad[o] }
                }
            }
        }
        return dInput
    }
}

/// A pooling window with padding and ceil mode along one axis, as PyTorch sizes it.
struct PoolWindow {
    let kernel, stride, padding: Int
    let ceilMode: Bool

    /// Whether the general (padded or ceil-mode) path is needed.
    var isGeneral: Bool { padding != 0 || ceilMode }

    /// ⌊ or ⌈(size + 2p − k)/s⌉ + 1; in ceil mode a last window starting past the input and its
    /// left padding is dropped.
    func outSize(_ size: Int) -> Int {
        let span = size + 2 * padding - kernel
        var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
        if ceilMode && (out - 1) * stride >= size + padding { out -= 1 }
        return out
    }

    /// The input positions window `o` covers, clipped to 0..<size.
    func clipped(_ o: Int, size: Int) -> Range<Int> {
        let start = o * stride - padding
        return Swift.max(start, 0)..<Swift.min(start + kernel, size)
    }

    /// The window clipped to the padded input (size + p): what count_include_pad divides by.
    func paddedCount(_ o: Int, size: Int) -> Int {
        let start = o * stride - padding
        return Swift.min(start + kernel, size + padding) - start
    }

    func outputShape(_ inputShape: [Int], name: String) throws -> [Int] {
        guard inputShape.count == 3, inputShape[1] + 2 * padding >= kernel, inputShape[2] + 2 * padding >= kernel else {
            throw SmallNetError.shapeMismatch("\(name) expects (C, H, W) inputs of at least \(kernel)×\(kernel) with padding, got \(inputShape)")
        }
        return [inputShape[0], outSize(inputShape[1]), outSize(inputShape[2])]
    }
}

/// Checks a pooling padding: 0...k/2, as PyTorch requires.
func poolPadding(_ name: String, kernelSize: Int, padding: Int) throws {
    try require(padding >= 0 && padding <= kernelSize / 2,
                "\(name) padding must be in 0...\(kernelSize / 2) (half the kernel size), got \(padding)")
}

/// Checks a pooling window's kernel size and stride (both in 1...15; the stride defaults to the
/// kernel size) and returns the stride.
func poolStride(_ name: String, kernelSize: Int, stride: Int?) throws -> Int {
    try require(kernelSize >= 1 && kernelSize <= 15, "\(name) kernel size must be in 1...15, got \(kernelSize)")
    let s = stride ?? kernelSize
    try require(s >= 1 && s <= 15, "\(name) stride must be in 1...15, got \(s)")
    return s
}

/// The per-sample output shape of a k×k / stride s pooling window over (C, H, W).
func poolOutputShape(_ inputShape: [Int], kernel: Int, stride: Int, name: String) throws -> [Int] {
    guard inputShape.count == 3, inputShape[1] >= kernel, inputShape[2] >= kernel else {
        throw SmallNetError.shapeMismatch("\(name) expects (C, H, W) inputs of at least \(kernel)×\(kernel), got \(inputShape)")
    }
    return [inputShape[0], (inputShape[1] - kernel) / stride + 1, (inputShape[2] - kernel) / stride + 1]
}
