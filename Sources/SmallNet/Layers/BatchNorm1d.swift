// Batch normalisation over the batch dimension of (N, F) inputs.

/// y = γ · (x − μ) / √(σ² + ε) + β, per feature.
///
/// Training: μ, σ² are the batch mean and biased variance; the running statistics move by
/// `momentum`: r ← (1 − m)·r + m·stat (the running variance uses the unbiased batch variance,
/// as PyTorch does). Eval: μ, σ² are the running statistics.
/// Backward (training): dx = γ/(N·σ) · (N·dy − Σdy − x̂·Σ(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy.
///
/// Shape: input (N, F); output (N, F). Parameters `weight` γ (F) = 1, `bias` β (F) = 0;
/// buffers `running_mean` (F) = 0, `running_var` (F) = 1, `num_batches_tracked`.
public final class BatchNorm1d: Layer {
    public let features: Int
    public let momentum: Float
    public let eps: Float
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Tensor
    public let runningVar: Tensor
    /// Batches seen in training mode (a one-element tensor, as PyTorch stores it).
    public let batchesTracked: Tensor

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private let normalized = Tensor(uncheckedShape: [0], count: 0)
    /// 1/√(σ² + ε) of the last forward, per feature.
    private let inverseStd: Tensor
    private var lastWasTraining = false

    /// - Throws: `invalidArgument` for a non-positive size, momentum outside [0, 1] or eps ≤ 0.
    public init(_ features: Int, momentum: Float = 0.1, eps: Float = 1e-5) throws {
        try require(features > 0 && features <= 1 << 24, "BatchNorm1d needs a positive feature count, got \(features)")
        try require(momentum >= 0 && momentum <= 1, "BatchNorm momentum must be in [0, 1], got \(momentum)")
        try require(eps > 0 && eps.isFinite, "BatchNorm eps must be positive, got \(eps)")
        self.features = features
        self.momentum = momentum
        self.eps = eps
        weight = Parameter(name: "weight", shape: [features])
        bias = Parameter(name: "bias", shape: [features])
        runningMean = Tensor(uncheckedShape: [features], count: features)
        runningVar = Tensor(uncheckedShape: [features], count: features)
        batchesTracked = Tensor(uncheckedShape: [], count: 1)
        inverseStd = Tensor(uncheckedShape: [features], count: features)
        resetParameters()
    }

    public func resetParameters() {
        weight.value.fill(1)
        bias.value.fill(0)
        runningMean.fill(0)
        runningVar.fill(1)
        batchesTracked.fill(0)
    }

    public var kind: String { "batchnorm1d" }
    public var spec: JSON {
        .object([("kind", .string(kind)), ("features", .number(features)), ("momentum", .number(momentum)), ("eps", .number(eps))])
    }
    public var summary: String { "BatchNorm1d(\(features))" }
    public var parameters: [Parameter] { [weight, bias] }
    public var buffers: [(name: String, tensor: Tensor)] {
        [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", batchesTracked)]
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape == [features] else {
            throw SmallNetError.shapeMismatch("\(summary) expects input (N, \(features)), got per-sample shape \(inputShape)")
        }
        return inputShape
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input), f = features
        output.resize(input.shape)
        normalized.resize(input.shape)
        lastWasTraining = context.training
        let x = input.data, y = output.data, xh = normalized.data
        let mean = UnsafeMutablePointer<Float>.allocate(capacity: f)
        defer { mean.deallocate() }
        let istd = inverseStd.data
        if context.training {
            // Per-feature mean and biased variance, accumulated in Double for stability.
            var sum = [Double](repeating: 0, count: f), sumSq = [Double](repeating: 0, count: f)
            for i in 0..<n {
                let row = x + i * f
                for j in 0..<f { let v = Double(row[j]); sum[j] += v; sumSq[j] += v * v }
            }
            for j in 0..<f {
                let mu = sum[j] / Double(n)
                let variance = Swift.max(sumSq[j] / Double(n) - mu * mu, 0)
                mean[j] = Float(mu)
                istd[j] = Float(1 / (variance + Double(eps)).squareRoot())
                let unbiased = n > 1 ? variance * Double(n) / Double(n - 1) : variance
                runningMean.data[j] = (1 - momentum) * runningMean.data[j] + momentum * Float(mu)
                runningVar.data[j] = (1 - momentum) * runningVar.data[j] + momentum * Float(unbiased)
            }
            batchesTracked.data[0] += 1
        } else {
            for j in 0..<f {
                mean[j] = runningMean.data[j]
                istd[j] = 1 / (runningVar.data[j] + eps).squareRoot()
            }
        }
        let g = weight.value.data, b = bias.value.data
        for i in 0..<n {
            let row = x + i * f, xr = xh + i * f, yr = y + i * f
            for j in 0..<f {
                let v = (row[j] - mean[j]) * istd[j]
                xr[j] = v
                yr[j] = g[j] * v + b[j]
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        let n = batchSize(dOut), f = features
        let dy = dOut.data, xh = normalized.data
        var sumDy = [Float](repeating: 0, count: f), sumDyXh = [Float](repeating: 0, count: f)
        for i in 0..<n {
            let d = dy + i * f, xr = xh + i * f
            for j in 0..<f { sumDy[j] += d[j]; sumDyXh[j] += d[j] * xr[j] }
        }
        for j in 0..<f {
            weight.grad.data[j] += sumDyXh[j]
            bias.grad.data[j] += sumDy[j]
        }
        guard needInputGradient else { return nil }
        dInput.resize(dOut.shape)
        let dx = dInput.data, g = weight.value.data, istd = inverseStd.data
        if lastWasTraining {
            let invN = 1 / Float(n)
            for i in 0..<n {
                let d = dy + i * f, xr = xh + i * f, o = dx + i * f
                for j in 0..<f {
                    o[j] = g[j] * istd[j] * (d[j] - invN * sumDy[j] - xr[j] * invN * sumDyXh[j])
                }
            }
        } else {
            for i in 0..<n {
                let d = dy + i * f, o = dx + i * f
                for j in 0..<f { o[j] = g[j] * istd[j] * d[j] }
            }
        }
        return dInput
    }
}
