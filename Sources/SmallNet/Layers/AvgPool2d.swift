// 2-D average pooling.

/// y[n, c, oy, ox] = mean of the k×k window at (oy·s, ox·s) of x[n, c] (no padding, floor
/// rounding, as PyTorch's `nn.AvgPool2d(k, s)`). Backward spreads dy/k² over the window.
///
/// Shape: input (N, C, H, W); output (N, C, (H − k)/s + 1, (W − k)/s + 1).
public final class AvgPool2d: Layer {
    public let kernelSize: Int
    public let stride: Int

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var inputShape: [Int] = []

    /// - Throws: `invalidArgument` for a kernel or stride outside 1...15 (stride defaults to the kernel size).
    public init(kernelSize: Int, stride: Int? = nil) throws {
        self.stride = try poolStride("AvgPool2d", kernelSize: kernelSize, stride: stride)
        self.kernelSize = kernelSize
    }

    public var kind: String { "avgpool2d" }
    public var spec: JSON { .object([("kind", .string(kind)), ("kernel", .number(kernelSize)), ("stride", .number(stride))]) }
    public var summary: String { "AvgPool2d(\(kernelSize)" + (stride != kernelSize ? ", stride \(stride)" : "") + ")" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try poolOutputShape(inputShape, kernel: kernelSize, stride: stride, name: summary)
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input), c = input.shape[1], h = input.shape[2], w = input.shape[3]
        let ho = (h - kernelSize) / stride + 1, wo = (w - kernelSize) / stride + 1
        inputShape = input.shape
        output.resize([n, c, ho, wo])
        let k = kernelSize, s = stride, x = input.data, y = output.data, scale = 1 / Float(k * k)
        forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
            for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                let src = x + plane * h * w, dst = y + plane * ho * wo
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var total: Float = 0
                        for i in 0..<k { for j in 0..<k { total += src[(oy * s + i) * w + ox * s + j] } }
                        dst[oy * wo + ox] = total * scale
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
        let ho = dOut.shape[2], wo = dOut.shape[3]
        let k = kernelSize, s = stride, dy = dOut.data, dx = dInput.data, scale = 1 / Float(k * k)
        forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
            for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                let src = dy + plane * ho * wo, dst = dx + plane * h * w
                dst.update(repeating: 0, count: h * w)
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        let g = src[oy * wo + ox] * scale
                        for i in 0..<k { for j in 0..<k { dst[(oy * s + i) * w + ox * s + j] += g } }
                    }
                }
            }
        }
        return dInput
    }
}
