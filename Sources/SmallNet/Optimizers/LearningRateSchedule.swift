// Learning-rate schedules, evaluated per step.

/// How the learning rate moves during training.
public enum LearningRateSchedule: Equatable, Sendable {
    /// The base rate throughout.
    case constant
    /// base · γ^⌊epoch / stepSize⌋ (PyTorch's StepLR stepped once per epoch).
    case step(stepSize: Int, gamma: Float)
    /// Linear warm-up from base/warmupSteps to base over `warmupEpochs`, then cosine annealing
    /// to `minimum`: lr = min + (base − min)·(1 + cos(π·s/S))/2, s steps into S after warm-up.
    case cosine(warmupEpochs: Double, minimum: Float)

    /// - Throws: `invalidArgument` for a non-positive step size, negative γ or warm-up, or a
    ///   negative minimum.
    public func validate() throws {
        switch self {
        case .constant: break
        case .step(let size, let gamma):
            try require(size > 0, "invalid step size: \(size) (must be > 0)")
            try checkHyperParameter("gamma", gamma, min: 0)
        case .cosine(let warmup, let minimum):
            try require(warmup >= 0 && warmup.isFinite, "invalid warm-up epochs: \(warmup) (must be ≥ 0)")
            try checkHyperParameter("minimum learning rate", minimum, min: 0)
        }
    }

    /// The learning rate for global step `step` (0-based) of `totalSteps`.
    public func learningRate(base: Float, step: Int, totalSteps: Int, stepsPerEpoch: Int) -> Float {
        switch self {
        case .constant:
            return base
        case .step(let size, let gamma):
            let epoch = step / Swift.max(stepsPerEpoch, 1)
            return base * Float(_pow(Double(gamma), Double(epoch / size)))
        case .cosine(let warmupEpochs, let minimum):
            // Whole warm-up steps, kept in Double: any finite warm-up length is valid.
            let warmup = (warmupEpochs * Double(stepsPerEpoch)).rounded(.towardZero)
            if Double(step) < warmup { return base * Float(Double(step) + 1) / Float(warmup) }
            let span = Swift.max(Double(totalSteps) - warmup, 1)
            let progress = (Double(step) - warmup) / span
            return minimum + (base - minimum) * Float(0.5 * (1 + _cos(Double.pi * Swift.min(progress, 1))))
        }
    }
}
