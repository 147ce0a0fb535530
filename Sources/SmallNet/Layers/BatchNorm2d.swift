// Batch normalisation per channel of (N, C, H, W) inputs.

/// y = γ_c · (x − μ_c) / √(σ²_c + ε) + β_c, statistics over (N, H, W) of each channel c.
///
/// Training: batch mean and biased variance; running statistics move by `momentum` (the
/// running variance takes the unbiased estimate). Eval: the running statistics. Backward
/// (training): dx = γ/(M·σ) · (M·dy − Σdy − x̂·Σ(dy·x̂)), M = N·H·W, with x̂ recomputed from x
/// rather than stored. As PyTorch's `nn.BatchNorm2d`.
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
    private var input: Tensor?
    /// μ and σ⁻¹ of the last forward, per channel (batch or running statistics).
    private let batchMean: Tensor
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
        batchMean = Tensor(uncheckedShape: [channels], count: channels)
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
        self.input = input
        output.resize(input.shape)
        lastWasTraining = context.training
        let x = input.data, y = output.data, istd = inverseStd.data, mu = batchMean.data
        let g = weight.value.data, b = bias.value.data
        let m = Double(n * plane)
        if context.training { batchesTracked.data[0] += 1 }
        forEachRange(count: c, pool: context.pool) { range in
            for ch in range {
                var mean: Float, variance: Float
                if context.training {
                    // One pass: Σx and Σx² per plane in 16 float lanes, across planes in Double.
                    var total = 0.0, squares = 0.0
                    for s in 0..<n {
                        let (p, q) = sumAndSquares(x + (s * c + ch) * plane, count: plane)
                        total += Double(p)
                        squares += Double(q)
                    }
                    let mean64 = total / m
                    let variance64 = Swift.max(squares / m - mean64 * mean64, 0)
                    mean = Float(mean64)
                    variance = Float(variance64)
                    let unbiased = m > 1 ? Float(variance64 * m / (m - 1)) : variance
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean
                    runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * unbiased
                } else {
                    mean = runningMean.data[ch]
                    variance = runningVar.data[ch]
                }
                let inv = 1 / (variance + eps).squareRoot()
                istd[ch] = inv
                mu[ch] = mean
                // y = γ·(x − μ)·σ⁻¹ + β = x·a + b'
                let scale = g[ch] * inv, shift = b[ch] - mean * inv * g[ch]
                let va = Vec16(repeating: scale), vb = Vec16(repeating: shift)
                for s in 0..<n {
                    let o = (s * c + ch) * plane
                    var i = 0
                    while i + 16 <= plane { store16(load16(x + o + i) * va + vb, y + o + i); i += 16 }
                    while i < plane { y[o + i] = x[o + i] * scale + shift; i += 1 }
                }
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard let input else { return nil }
        let n = batchSize(dOut), c = channels, plane = dOut.shape[2] * dOut.shape[3]
        let dy = dOut.data, x = input.data, istd = inverseStd.data, mu = batchMean.data, g = weight.value.data
        if needInputGradient { dInput.resize(dOut.shape) }
        let dx = dInput.data
        let m = Float(n * plane)
        let training = lastWasTraining
        forEachRange(count: c, pool: context.pool) { range in
            for ch in range {
                // Σdy and Σdy·x̂ with x̂ = (x − μ)·σ⁻¹ recomputed: Σdy·x̂ = σ⁻¹·(Σdy·x − μ·Σdy).
                var sumDy: Float = 0, sumDyX: Float = 0
                for s in 0..<n {
                    let o = (s * c + ch) * plane
                    let (partialDy, partialDyX) = sumAndDot(dy + o, x + o, count: plane)
                    sumDy += partialDy
                    sumDyX += partialDyX
                }
                let inv = istd[ch], mean = mu[ch]
                let sumDyXh = inv * (sumDyX - mean * sumDy)
                weight.grad.data[ch] += sumDyXh
                bias.grad.data[ch] += sumDy
                guard needInputGradient else { continue }
                // dx = k·(dy − Σdy/M − x̂·Σdy·x̂/M), k = γ·σ⁻¹ (training); dx = k·dy (eval)
                let k = g[ch] * inv
                let meanDy = training ? sumDy / m : 0, meanDyXh = training ? sumDyXh / m : 0
                // k·(dy − meanDy − (x − μ)·σ⁻¹·meanDyXh) = k·dy + (x·c1 + c0)
                let c1 = -k * inv * meanDyXh, c0 = -k * meanDy + k * mean * inv * meanDyXh
                let vk = Vec16(repeating: k), v1 = Vec16(repeating: c1), v0 = Vec16(repeating: c0)
                for s in 0..<n {
                    let o = (s * c + ch) * plane
                    var i = 0
                    while i + 16 <= plane {
                        store16(vk * load16(dy + o + i) + load16(x + o + i) * v1 + v0, dx + o + i)
                        i += 16
                    }
                    while i < plane { dx[o + i] = k * dy[o + i] + x[o + i] * c1 + c0; i += 1 }
                }
            }
        }
        return needInputGradient ? dInput : nil
    }
}
