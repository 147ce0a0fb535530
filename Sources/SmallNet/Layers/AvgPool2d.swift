// 2-D average pooling.
import SmallNetKernels

/// y[n, c, oy, ox] = mean of the k×k window at (oy·s, ox·s) of x[n, c] (no padding, floor
/// rounding, as PyTorch's `nn.AvgPool2d(k, s)`). Backward spreads dy/k² over the window.
///
/// Shape: input (N, C, H, W); output (N, C, (H − k)/s + 1, (W − k)/s + 1).
///
/// With `padding` p (zeros, p ≤ k/2) or `ceilMode`, sizes as `MaxPool2d`; each window is
/// divided by its size within the padded input (`countIncludePad`, PyTorch's default) or by
/// the number of input pixels it covers. As PyTorch's `nn.AvgPool2d(k, s, p, ceil_mode,
/// count_include_pad)`. Those take a general path; the defaults keep the one above.
public final class AvgPool2d: Layer {
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int
    public let ceilMode: Bool
    public let countIncludePad: Bool

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var inputShape: [Int] = []

    /// - Throws: `invalidArgument` for a kernel or stride outside 1...15 (stride defaults to the
    ///   kernel size) or a padding outside 0...k/2.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false,
                countIncludePad: Bool = true) throws {
        self.stride = try poolStride("AvgPool2d", kernelSize: kernelSize, stride: stride)
        try poolPadding("AvgPool2d", kernelSize: kernelSize, padding: padding)
        self.kernelSize = kernelSize
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    public var kind: String { "avgpool2d" }
    /// The settings; "padding", "ceil_mode" and "count_include_pad" appear only when not
    /// 0 / false / true.
    public var spec: JSON {
        var fields: [(String, JSON)] = [("kind", .string(kind)), ("kernel", .number(kernelSize)), ("stride", .number(stride))]
        if padding != 0 { fields.append(("padding", .number(padding))) }
        if ceilMode { fields.append(("ceil_mode", .bool(true))) }
        if !countIncludePad { fields.append(("count_include_pad", .bool(false))) }
        return .object(fields)
    }
    public var summary: String {
        "AvgPool2d(\(kernelSize)" + (stride != kernelSize ? ", stride \(stride)" : "") + (padding != 0 ? ", pad \(padding)" : "")
            + (ceilMode ? ", ceil" : "") + (countIncludePad ? "" : ", exclude pad") + ")"
    }

    private var window: PoolWindow { PoolWindow(kernel: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode) }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        if window.isGeneral { return try window.outputShape(inputShape, name: summary) }
        return try poolOutputShape(inputShape, kernel: kernelSize, stride: stride, name: summary)
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        if window.isGeneral { return generalPass(input, dOut: nil, context: context) }
        let n = batchSize(input), c = input.shape[1], h = input.shape[2], w = input.shape[3]
        let ho = (h - kernelSize) / stride + 1, wo = (w - kernelSize) / stride + 1
        inputShape = input.shape
        output.resize([n, c, ho, wo])
        let k = kernelSize, s = stride, x = input.data, y = output.data, scale = 1 / Float(k * k)
        forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
            for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                kernels.avgPoolPlane(x + plane * h * w, width: w, kernel: k, stride: s, outHeight: ho, outWidth: wo,
                                     scale: scale, output: y + plane * ho * wo)
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        if window.isGeneral { return generalPass(nil, dOut: dOut, context: context) }
        dInput.resize(inputShape)
        let n = inputShape[0], c = inputShape[1], h = inputShape[2], w = inputShape[3]
        let ho = dOut.shape[2], wo = dOut.shape[3]
        let k = kernelSize, s = stride, dy = dOut.data, dx = dInput.data, scale = 1 / Float(k * k)
        forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
            for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                kernels.avgPoolPlaneBackward(dy + plane * ho * wo, kernel: k, stride: s, outHeight: ho, outWidth: wo,
                                             height: h, width: w, scale: scale, dInput: dx + plane * h * w)
            }
        }
        return dInput
    }

    // MARK: General path: padding or ceil mode

    /// Forward (`input`) or backward (`dOut`) of the padded / ceil-mode pooling: each window
    /// clipped to the image, divided by its padded or its clipped size.
    private func generalPass(_ input: Tensor?, dOut: Tensor?, context: ExecutionContext) -> Tensor {
        if let input { inputShape = input.shape }
        let n = inputShape[0], c = inputShape[1], h = inputShape[2], w = inputShape[3]
        let win = window, ho = win.outSize(h), wo = win.outSize(w), includePad = countIncludePad
        let forward = input != nil
        if forward { output.resize([n, c, ho, wo]) } else { dInput.resize(inputShape) }
        let x = input?.data, y = output.data, dy = dOut?.data, dx = dInput.data
        forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
            for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                if !forward { (dx + plane * h * w).update(repeating: 0, count: h * w) }
                for oy in 0..<ho {
                    let rows = win.clipped(oy, size: h)
                    for ox in 0..<wo {
                        let cols = win.clipped(ox, size: w)
                        let count = includePad ? win.paddedCount(oy, size: h) * win.paddedCount(ox, size: w)
                                               : rows.count * cols.count
                        let scale = 1 / Float(count), o = plane * ho * wo + oy * wo + ox
                        if let x {
                            var total: Float = 0
                            for yy in rows { for xx in cols { total += x[plane * h * w + yy * w + xx] } }
                            y[o] = total * scale
                        } else if let dy {
                            let g = dy[o] * scale
                            for yy in rows { for xx in cols { dx[plane * h * w + yy * w + xx] += g } }
                        }
                    }
                }
            }
        }
        return forward ? output : dInput
    }
}
