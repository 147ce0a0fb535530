// Batch normalisation per channel of (N, C, H, W) inputs: a named shell over `BatchNorm`.

/// y = γ_c · (x − μ_c) / √(σ²_c + ε) + β_c, statistics over (N, H, W) of each channel c; see
/// `BatchNorm` for training, eval and backward. As PyTorch's `nn.BatchNorm2d(C, eps, momentum,
/// affine, track_running_stats)`.
///
/// Shape: input (N, C, H, W); output the same. Parameters `weight` γ (C) = 1, `bias` β (C) = 0;
/// buffers `running_mean`, `running_var`, `num_batches_tracked`.
public final class BatchNorm2d: BatchNorm {
    /// - Throws: `invalidArgument` for a non-positive channel count, momentum outside [0, 1] or eps ≤ 0.
    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5, affine: Bool = true,
                trackRunningStats: Bool = true) throws {
        try super.init("BatchNorm2d", planar: true, channels: channels, limit: 1 << 20, momentum: momentum, eps: eps,
                       affine: affine, trackRunningStats: trackRunningStats)
    }

    public override var kind: String { "batchnorm2d" }
    public override var spec: JSON { .object([("kind", .string(kind)), ("channels", .number(channels))] + specFields) }
    public override var summary: String { "BatchNorm2d(\(channels)\(optionSummary))" }

    public override func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[0] == channels else {
            throw SmallNetError.shapeMismatch("\(summary) expects (\(channels), H, W) inputs, got \(inputShape)")
        }
        return inputShape
    }
}
