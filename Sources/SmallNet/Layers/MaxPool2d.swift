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
    /// For each output element, the position i·k + j of its arg-max within the window.
    private var position: [UInt8] = []
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
        if position.count < output.count { position = [UInt8](repeating: 0, count: output.count) }
        let k = kernelSize, s = stride, x = input.data, y = output.data
        position.withUnsafeMutableBufferPointer { positions in
            let at = positions.baseAddress!
            forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
                for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                    let src = x + plane * h * w, dst = y + plane * ho * wo, code = at + plane * ho * wo
                    if k == 2 && s == 2 {
                        maxPool2x2(src, width: w, outHeight: ho, outWidth: wo, output: dst, position: code)
                    } else {
                        maxPoolPlane(src, width: w, kernel: k, stride: s, outHeight: ho, outWidth: wo,
                                     output: dst, position: code)
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
        let k = kernelSize, s = stride, dy = dOut.data, dx = dInput.data
        position.withUnsafeBufferPointer { positions in
            let at = positions.baseAddress!
            forEachSampleGroup(batch: n, pool: context.pool) { _, samples in
                for plane in (samples.lowerBound * c)..<(samples.upperBound * c) {
                    let grad = dy + plane * ho * wo, code = at + plane * ho * wo, d = dx + plane * h * w
                    if k == 2 && s == 2 {
                        maxPool2x2Backward(grad, position: code, outHeight: ho, outWidth: wo, height: h, width: w, dInput: d)
                    } else {
                        maxPoolPlaneBackward(grad, position: code, kernel: k, stride: s, outHeight: ho, outWidth: wo,
                                             height: h, width: w, dInput: d)
                    }
                }
            }
        }
        return dInput
    }
}

/// One plane of k×k, stride-s max pooling: the maximum of each window and its position i·k + j
/// (the first one in row-major order on ties).
private func maxPoolPlane(_ x: UnsafePointer<Float>, width w: Int, kernel k: Int, stride s: Int, outHeight ho: Int,
                          outWidth wo: Int, output y: UnsafeMutablePointer<Float>, position: UnsafeMutablePointer<UInt8>) {
    for oy in 0..<ho {
        for ox in 0..<wo {
            let origin = x + oy * s * w + ox * s
            var best = 0, value = origin[0]
            for i in 0..<k {
                for j in 0..<k where origin[i * w + j] > value {
                    value = origin[i * w + j]
                    best = i * k + j
                }
            }
            y[oy * wo + ox] = value
            position[oy * wo + ox] = UInt8(truncatingIfNeeded: best)
        }
    }
}

/// The adjoint of `maxPoolPlane`: dx = 0, then each dy added at its window's max position
/// (windows may overlap when s < k).
private func maxPoolPlaneBackward(_ dy: UnsafePointer<Float>, position: UnsafePointer<UInt8>, kernel k: Int, stride s: Int,
                                  outHeight ho: Int, outWidth wo: Int, height h: Int, width w: Int,
                                  dInput dx: UnsafeMutablePointer<Float>) {
    dx.update(repeating: 0, count: h * w)
    for oy in 0..<ho {
        for ox in 0..<wo {
            let p = Int(position[oy * wo + ox])
            dx[(oy * s + p / k) * w + ox * s + p % k] += dy[oy * wo + ox]
        }
    }
}

/// One plane of 2×2, stride-2 max pooling: the maximum of each window and its position
/// (0 1 / 2 3, the first one in row-major order on ties), branch-free: random data makes every
/// comparison a coin toss for a branch predictor.
private func maxPool2x2(_ x: UnsafePointer<Float>, width w: Int, outHeight ho: Int, outWidth wo: Int,
                        output y: UnsafeMutablePointer<Float>, position: UnsafeMutablePointer<UInt8>) {
    for oy in 0..<ho {
        let r0 = x + 2 * oy * w, r1 = r0 + w
        let out = y + oy * wo, code = position + oy * wo
        for ox in 0..<wo {
            let a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1]
            let m = Swift.max(Swift.max(a, b), Swift.max(c, d))
            out[ox] = m
            // 0 if a is the max, else 1 + [b is not]·(1 + [c is not]).
            let notA = unsafeBitCast(a != m, to: UInt8.self), notB = unsafeBitCast(b != m, to: UInt8.self)
            let notC = unsafeBitCast(c != m, to: UInt8.self)
            code[ox] = notA &* (1 &+ notB &* (1 &+ notC))
        }
    }
}

/// The adjoint of `maxPool2x2` for one plane: each dy goes to its window's max position; the
/// other positions, and a last row or column no window covers (odd sizes), get 0.
private func maxPool2x2Backward(_ dy: UnsafePointer<Float>, position: UnsafePointer<UInt8>, outHeight ho: Int,
                                outWidth wo: Int, height h: Int, width w: Int, dInput dx: UnsafeMutablePointer<Float>) {
    for oy in 0..<ho {
        let r0 = dx + 2 * oy * w, r1 = r0 + w
        let grad = dy + oy * wo, code = position + oy * wo
        for ox in 0..<wo {
            let g = grad[ox], p = code[ox]
            r0[2 * ox] = p == 0 ? g : 0
            r0[2 * ox + 1] = p == 1 ? g : 0
            r1[2 * ox] = p == 2 ? g : 0
            r1[2 * ox + 1] = p == 3 ? g : 0
        }
        if 2 * wo < w { r0[w - 1] = 0; r1[w - 1] = 0 }
    }
    if 2 * ho < h { (dx + (h - 1) * w).update(repeating: 0, count: w) }
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
