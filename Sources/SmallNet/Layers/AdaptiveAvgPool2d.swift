// Adaptive average pooling: a fixed output size whatever the input size.

/// y[n, c, i, j] = mean of x[n, c] over rows ⌊i·H/h⌋ ..< ⌈(i + 1)·H/h⌉ and columns
/// ⌊j·W/w⌋ ..< ⌈(j + 1)·W/w⌉ (PyTorch's window rule; windows may overlap). Backward spreads
/// dy / (window size) over each window. As PyTorch's `nn.AdaptiveAvgPool2d((h, w))`.
///
/// Shape: input (N, C, H, W); output (N, C, h, w).
public final class AdaptiveAvgPool2d: Layer {
    public let outHeight, outWidth: Int

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var inputShape: [Int] = []

    /// - Throws: `invalidArgument` for an output size outside 1...4096.
    public init(outHeight: Int, outWidth: Int) throws {
        try require(outHeight >= 1 && outHeight <= 4096 && outWidth >= 1 && outWidth <= 4096,
                    "AdaptiveAvgPool2d output size must be in 1...4096, got (\(outHeight), \(outWidth))")
        self.outHeight = outHeight
        self.outWidth = outWidth
    }

    public var kind: String { "adaptiveavgpool2d" }
    public var spec: JSON {
        .object([("kind", .string(kind)), ("out_height", .number(outHeight)), ("out_width", .number(outWidth))])
    }
    public var summary: String { "AdaptiveAvgPool2d(\(outHeight), \(outWidth))" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3 else {
            throw SmallNetError.shapeMismatch("\(summary) expects (C, H, W) inputs, got \(inputShape)")
        }
        return [inputShape[0], outHeight, outWidth]
    }

    /// The input positions output `o` of `outSize` averages over an input of `size`.
    @inline(__always) private static func window(_ o: Int, _ outSize: Int, _ size: Int) -> Range<Int> {
        (o * size / outSize)..<(((o + 1) * size + outSize - 1) / outSize)
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input), c = input.shape[1], h = input.shape[2], w = input.shape[3]
        let ho = outHeight, wo = outWidth
        inputShape = input.shape
        output.resize([n, c, ho, wo])
        let x = input.data, y = output.data
        forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
            for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                let src = x + plane * h * w, dst = y + plane * ho * wo
                for oy in 0..<ho {
                    let rows = Self.window(oy, ho, h)
                    for ox in 0..<wo {
                        let cols = Self.window(ox, wo, w)
                        var total: Float = 0
                        for yy in rows { for xx in cols { total += src[yy * w + xx] } }
                        dst[oy * wo + ox] = total / Float(rows.count * cols.count)
                    }
                }
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        dInput.resize(inputShape)
        let n = inputShape[0], c = inputShape[1], h = inputShape[2], w = inputShape[3]
        let ho = outHeight, wo = outWidth, dy = dOut.data, dx = dInput.data
        forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
            for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                let grad = dy + plane * ho * wo, dst = dx + plane * h * w
                dst.update(repeating: 0, count: h * w)
                for oy in 0..<ho {
                    let rows = Self.window(oy, ho, h)
                    for ox in 0..<wo {
                        let cols = Self.window(ox, wo, w)
                        let g = grad[oy * wo + ox] / Float(rows.count * cols.count)
                        for yy in rows { for xx in cols { dst[yy * w + xx] += g } }
                    }
                }
            }
        }
        return dInput
    }
}
