// Batch normalisation per channel of (N, C, H, W) inputs.

/// y = γ_c · (x − μ_c) / √(σ²_c + ε) + β_c, statistics over (N, H, W) of each channel c.
///
/// Training: batch mean and biased variance; running statistics move by `momentum` (the
/// running variance takes the unbiased estimate). Eval: the running statistics. Backward
/// (training): dx = γ/(M·σ) · (M·dy − Σdy − x̂·Σ(dy·x̂)), M = N·H·W. As PyTorch's `nn.BatchNorm2d`.
///
/// Shape: input (N, C, H, W); output the same. Parameters `weight` γ (C) = 1, `bias` β (C) = 0;
/// buffers `running_mean`, `running_var`, `num_batches_tracked`.
public final class BatchNorm2d: Layer {
    public let channels: Int
    public let momentum: Float
    public let eps: Float
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Tensor
    public let runningVar: Tensor
    public let batchesTracked: Tensor

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private let normalized = Tensor(uncheckedShape: [0], count: 0)
    private let inverseStd: Tensor
    private var lastWasTraining = false

    /// - Throws: `invalidArgument` for a non-positive channel count, momentum outside [0, 1] or eps ≤ 0.
    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) throws {
        try require(channels > 0 && channels <= 1 << 20, "BatchNorm2d needs a positive channel count, got \(channels)")
        try require(momentum >= 0 && momentum <= 1, "BatchNorm momentum must be in [0, 1], got \(momentum)")
        try require(eps > 0 && eps.isFinite, "BatchNorm eps must be positive, got \(eps)")
        self.channels = channels
        self.momentum = momentum
        self.eps = eps
        weight = Parameter(name: "weight", shape: [channels])
        bias = Parameter(name: "bias", shape: [channels])
        runningMean = Tensor(uncheckedShape: [channels], count: channels)
        runningVar = Tensor(uncheckedShape: [channels], count: channels)
        batchesTracked = Tensor(uncheckedShape: [], count: 1)
        inverseStd = Tensor(uncheckedShape: [channels], count: channels)
        resetParameters()
    }

    public func resetParameters() {
        weight.value.fill(1)
        bias.value.fill(0)
        runningMean.fill(0)
        runningVar.fill(1)
        batchesTracked.fill(0)
    }

    public var kind: String { "batchnorm2d" }
    public var spec: JSON {
        .object([("kind", .string(kind)), ("channels", .number(channels)), ("momentum", .number(momentum)), ("eps", .number(eps))])
    }
    public var summary: String { "BatchNorm2d(\(channels))" }
    public var parameters: [Parameter] { [weight, bias] }
    public var buffers: [(name: String, tensor: Tensor)] {
        [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", batchesTracked)]
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[0] == channels else {
            throw SmallNetError.shapeMismatch("\(summary) expects (\(channels), H, W) inputs, got \(inputShape)")
        }
        return inputShape
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input), c = channels, plane = input.shape[2] * input.shape[3]
        output.resize(input.shape)
        normalized.resize(input.shape)
        lastWasTraining = context.training
        let x = input.data, y = output.data, xh = normalized.data, istd = inverseStd.data
        let g = weight.value.data, b = bias.value.data
        let m = Float(n * plane)
        if context.training { batchesTracked.data[0] += 1 }
        forEachRange(count: c, pool: context.pool) { range in
            for ch in range {
                var mean: Float, variance: Float
                if context.training {
                    // Two passes (mean, then squared deviations), each summed in a fixed order.
                    var total: Float = 0
                    for s in 0..<n { total += sum(x + (s * c + ch) * plane, count: plane) }
                    mean = total / m
                    var squares: Float = 0
                    for s in 0..<n { squares += squaredDeviation(x + (s * c + ch) * plane, count: plane, mean: mean) }
                    variance = squares / m
                    let unbiased = m > 1 ? variance * m / (m - 1) : variance
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean
                    runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * unbiased
                } else {
                    mean = runningMean.data[ch]
                    variance = runningVar.data[ch]
                }
                let inv = 1 / (variance + eps).squareRoot()
                istd[ch] = inv
                let scale = Vec16(repeating: inv), shift = Vec16(repeating: -mean * inv)
                let gamma = Vec16(repeating: g[ch]), beta = Vec16(repeating: b[ch])
                for s in 0..<n {
                    let o = (s * c + ch) * plane
                    var i = 0
                    while i + 16 <= plane {
                        let v = load16(x + o + i) * scale + shift
                        store16(v, xh + o + i)
                        store16(gamma * v + beta, y + o + i)
                        i += 16
                    }
                    while i < plane {
                        let v = x[o + i] * inv - mean * inv
                        xh[o + i] = v
                        y[o + i] = g[ch] * v + b[ch]
                        i += 1
                    }
                }
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        let n = batchSize(dOut), c = channels, plane = dOut.shape[2] * dOut.shape[3]
        let dy = dOut.data, xh = normalized.data, istd = inverseStd.data, g = weight.value.data
        if needInputGradient { dInput.resize(dOut.shape) }
        let dx = dInput.data
        let m = Float(n * plane)
        let training = lastWasTraining
        forEachRange(count: c, pool: context.pool) { range in
            for ch in range {
                var sumDy: Float = 0, sumDyXh: Float = 0
                for s in 0..<n {
                    let o = (s * c + ch) * plane
                    sumDy += sum(dy + o, count: plane)
                    sumDyXh += dot(dy + o, xh + o, count: plane)
                }
                weight.grad.data[ch] += sumDyXh
                bias.grad.data[ch] += sumDy
                guard needInputGradient else { continue }
                let k = g[ch] * istd[ch]
                let meanDy = training ? sumDy / m : 0, meanDyXh = training ? sumDyXh / m : 0
                let vk = Vec16(repeating: k), vMeanDy = Vec16(repeating: meanDy), vMeanDyXh = Vec16(repeating: meanDyXh)
                for s in 0..<n {
                    let o = (s * c + ch) * plane
                    var i = 0
                    while i + 16 <= plane {
                        store16(vk * (load16(dy + o + i) - vMeanDy - load16(xh + o + i) * vMeanDyXh), dx + o + i)
                        i += 16
                    }
                    while i < plane { dx[o + i] = k * (dy[o + i] - meanDy - xh[o + i] * meanDyXh); i += 1 }
                }
            }
        }
        return needInputGradient ? dInput : nil
    }
}
