// Batch normalisation over the batch dimension of (N, F) inputs: a named shell over `BatchNorm`.

/// y = γ · (x − μ) / √(σ² + ε) + β, per feature, statistics over the batch; see `BatchNorm`
/// for training, eval and backward. As PyTorch's `nn.BatchNorm1d(F, eps, momentum, affine,
/// track_running_stats)` on (N, F) inputs.
///
/// Shape: input (N, F); output (N, F). Parameters `weight` γ (F) = 1, `bias` β (F) = 0;
/// buffers `running_mean` (F) = 0, `running_var` (F) = 1, `num_batches_tracked`.
public final class BatchNorm1d: BatchNorm {
    /// F, the number of features (the core's `channels`).
    public var features: Int { channels }

    /// - Throws: `invalidArgument` for a non-positive size, momentum outside [0, 1] or eps ≤ 0.
    public init(_ features: Int, momentum: Float = 0.1, eps: Float = 1e-5, affine: Bool = true,
                trackRunningStats: Bool = true) throws {
        try super.init("BatchNorm1d", planar: false, channels: features, limit: 1 << 24, momentum: momentum, eps: eps,
                       affine: affine, trackRunningStats: trackRunningStats)
    }

    public override var kind: String { "batchnorm1d" }
    public override var spec: JSON { .object([("kind", .string(kind)), ("features", .number(features))] + specFields) }
    public override var summary: String { "BatchNorm1d(\(features)\(optionSummary))" }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape == [features] else {
            throw SmallNetError.shapeMismatch("\(summary) expects input (N, \(features)), got per-sample shape \(inputShape)")
        }
        return inputShape
    }
}
