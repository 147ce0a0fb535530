// 2-D max pooling.

/// y[n, c, oy, ox] = max over the k×k window at (oy·s, ox·s) of x[n, c] (no padding, floor
/// rounding, as PyTorch's `nn.MaxPool2d(k, s)`). Backward routes each dy to the window's arg-max
/// (the first one in row-major order on ties).
///
/// Shape: input (N, C, H, W); output (N, C, (H − k)/s + 1, (W − k)/s + 1).
public final class MaxPool2d: Layer {
    public let kernelSize: Int
    public let stride: Int

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    /// For each output element, the flat index of its arg-max within the sample's input.
    private var argmax: [Int32] = []
    private var inputShape: [Int] = []

    /// - Throws: `invalidArgument` for a kernel or stride outside 1...15 (stride defaults to the kernel size).
    public init(kernelSize: Int, stride: Int? = nil) throws {
        self.stride = try poolStride("MaxPool2d", kernelSize: kernelSize, stride: stride)
        self.kernelSize = kernelSize
    }

    public var kind: String { "maxpool2d" }
    public var spec: JSON { .object([("kind", .string(kind)), ("kernel", .number(kernelSize)), ("stride", .number(stride))]) }
    public var summary: String { "MaxPool2d(\(kernelSize)" + (stride != kernelSize ? ", stride \(stride)" : "") + ")" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try poolOutputShape(inputShape, kernel: kernelSize, stride: stride, name: summary)
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input), c = input.shape[1], h = input.shape[2], w = input.shape[3]
        let ho = (h - kernelSize) / stride + 1, wo = (w - kernelSize) / stride + 1
        inputShape = input.shape
        output.resize([n, c, ho, wo])
        if argmax.count < output.count { argmax = [Int32](repeating: 0, count: output.count) }
        let k = kernelSize, s = stride, x = input.data, y = output.data
        argmax.withUnsafeMutableBufferPointer { arg in
            let indices = arg.baseAddress!
            forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
                for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                    let src = x + plane * h * w, channelOffset = (plane % c) * h * w
                    var o = plane * ho * wo
                    for oy in 0..<ho {
                        for ox in 0..<wo {
                            let origin = oy * s * w + ox * s
                            var best = origin
                            var value = src[origin]
                            if k == 2 {
                                // The common 2×2 window, unrolled and free of branches: random data
                                // makes every comparison a coin toss for a branch predictor.
                                let v1 = src[origin + 1], v2 = src[origin + w], v3 = src[origin + w + 1]
                                var offset = 0
                                var step = Int(unsafeBitCast(v1 > value, to: UInt8.self))
                                offset += step * (1 - offset); value = Swift.max(value, v1)
                                step = Int(unsafeBitCast(v2 > value, to: UInt8.self))
                                offset += step * (w - offset); value = Swift.max(value, v2)
                                step = Int(unsafeBitCast(v3 > value, to: UInt8.self))
                                offset += step * (w + 1 - offset); value = Swift.max(value, v3)
                                best = origin + offset
                            } else {
                                for i in 0..<k {
                                    for j in 0..<k where src[origin + i * w + j] > value {
                                        value = src[origin + i * w + j]
                                        best = origin + i * w + j
                                    }
                                }
                            }
                            y[o] = value
                            indices[o] = Int32(truncatingIfNeeded: channelOffset + best)
                            o += 1
                        }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        dInput.resize(inputShape)
        let n = inputShape[0], inSize = inputShape.dropFirst().reduce(1, *), outSize = dOut.count / Swift.max(n, 1)
        let dy = dOut.data, dx = dInput.data
        argmax.withUnsafeBufferPointer { arg in
            let indices = arg.baseAddress!
            forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
                for sample in samples {
                    let d = dx + sample * inSize
                    d.update(repeating: 0, count: inSize)
                    for o in (sample * outSize)..<((sample + 1) * outSize) { d[Int(indices[o])] += dy[o] }
                }
            }
        }
        return dInput
    }
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
