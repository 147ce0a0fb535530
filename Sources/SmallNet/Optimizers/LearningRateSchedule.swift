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
    /// base · γ^epoch (PyTorch's ExponentialLR stepped once per epoch).
    case exponential(gamma: Float)
    /// PyTorch's OneCycleLR (two phases), stepped every step, with max_lr the base rate: from
    /// base/div up to base over the first `pctStart` of the steps, then down to
    /// base/div/finalDiv. Only the rate cycles (as cycle_momentum=False).
    case oneCycle(OneCycle)
    /// PyTorch's ReduceLROnPlateau on the validation loss (mode min, relative threshold): the
    /// rate is multiplied by `factor` after more than `patience` epochs without improvement.
    /// `learningRate(…)` gives the rate before any reduction; `Trainer.fit` tracks the losses
    /// with `PlateauTracker`, which needs validation data.
    case reduceOnPlateau(Plateau)
    /// A linear warm-up from base/W to the schedule's first rate over W = ⌊epochs · steps per
    /// epoch⌋ steps, then `schedule` run over the remaining steps as if training began there.
    /// For every kind but cosine, which has its own.
    indirect case warmup(epochs: Double, LearningRateSchedule)

    /// Settings of `oneCycle`, PyTorch's defaults.
    public struct OneCycle: Equatable, Sendable {
        /// Fraction of the steps spent rising, in [0, 1].
        public var pctStart: Float = 0.3
        /// Cosine (true) or linear annealing.
        public var cosineAnnealing = true
        /// The first rate is base / divFactor.
        public var divFactor: Float = 25
        /// The last rate is base / divFactor / finalDivFactor.
        public var finalDivFactor: Float = 1e4
        public init(pctStart: Float = 0.3, cosineAnnealing: Bool = true, divFactor: Float = 25,
                    finalDivFactor: Float = 1e4) {
            self.pctStart = pctStart
            self.cosineAnnealing = cosineAnnealing
            self.divFactor = divFactor
            self.finalDivFactor = finalDivFactor
        }
    }

    /// Settings of `reduceOnPlateau`, PyTorch's defaults.
    public struct Plateau: Equatable, Sendable {
        /// Multiplies the rate at each reduction, in [0, 1).
        public var factor: Float = 0.1
        /// Epochs without improvement tolerated before a reduction.
        public var patience = 10
        /// A loss improves when below best · (1 − threshold).
        public var threshold: Float = 1e-4
        /// Epochs after a reduction before bad epochs count again.
        public var cooldown = 0
        /// The rate is never reduced below this.
        public var minimum: Float = 0
        public init(factor: Float = 0.1, patience: Int = 10, threshold: Float = 1e-4, cooldown: Int = 0,
                    minimum: Float = 0) {
            self.factor = factor
            self.patience = patience
            self.threshold = threshold
            self.cooldown = cooldown
            self.minimum = minimum
        }
    }

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
        case .exponential(let gamma):
            try checkHyperParameter("gamma", gamma, min: 0)
        case .oneCycle(let c):
            try checkHyperParameter("pct_start", c.pctStart, min: 0, max: 1)
            try checkHyperParameter("div_factor", c.divFactor, min: 0, minInclusive: false)
            try checkHyperParameter("final_div_factor", c.finalDivFactor, min: 0, minInclusive: false)
        case .reduceOnPlateau(let p):
            try checkHyperParameter("factor", p.factor, min: 0, max: 1, maxInclusive: false)
            try require(p.patience >= 0 && p.patience <= 1_000_000, "invalid patience: \(p.patience) (must be in 0...1000000)")
            try checkHyperParameter("threshold", p.threshold, min: 0)
            try require(p.cooldown >= 0 && p.cooldown <= 1_000_000, "invalid cooldown: \(p.cooldown) (must be in 0...1000000)")
            try checkHyperParameter("minimum learning rate", p.minimum, min: 0)
        case .warmup(let epochs, let inner):
            try require(epochs >= 0 && epochs.isFinite, "invalid warm-up epochs: \(epochs) (must be ≥ 0)")
            switch inner {
            case .cosine: throw SmallNetError.invalidArgument("the cosine schedule has its own warm-up (warmupEpochs)")
            case .warmup: throw SmallNetError.invalidArgument("a warm-up cannot wrap another warm-up")
            default: try inner.validate()
            }
        }
    }

    /// The schedule under any warm-up.
    public var withoutWarmup: LearningRateSchedule {
        if case .warmup(_, let inner) = self { return inner }
        return self
    }

    /// True for reduce-on-plateau, with or without warm-up: training needs validation data.
    public var needsValidationLoss: Bool {
        if case .reduceOnPlateau = withoutWarmup { return true }
        return false
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
        case .exponential(let gamma):
            let epoch = step / Swift.max(stepsPerEpoch, 1)
            return Float(Double(base) * _pow(decimal(gamma), Double(epoch)))
        case .oneCycle(let c):
            return Float(oneCycleRate(c, base: Double(base), step: Double(step), totalSteps: Double(totalSteps)))
        case .reduceOnPlateau:
            return base
        case .warmup(let epochs, let inner):
            // Whole warm-up steps, kept in Double (as cosine's) until known to be below `step`.
            let warmup = (epochs * Double(stepsPerEpoch)).rounded(.towardZero)
            if Double(step) < warmup {
                let rest = Int(Swift.max(Double(totalSteps) - warmup, 0))
                let target = inner.learningRate(base: base, step: 0, totalSteps: rest, stepsPerEpoch: stepsPerEpoch)
                return target * Float((Double(step) + 1) / warmup)
            }
            let done = Int(warmup)
            return inner.learningRate(base: base, step: step - done, totalSteps: Swift.max(totalSteps - done, 0),
                                      stepsPerEpoch: stepsPerEpoch)
        }
    }
}

extension LearningRateSchedule {
    /// The schedule's settings as members of a JSON object ("schedule": its name, then its values).
    public var jsonMembers: [(String, JSON)] {
        switch self {
        case .constant: return [("schedule", .string("constant"))]
        case .step(let size, let gamma):
            return [("schedule", .string("step")), ("step_size", .number(size)), ("gamma", .number(gamma))]
        case .cosine(let warmup, let minimum):
            return [("schedule", .string("cosine")), ("warmup_epochs", .number(warmup)), ("min_lr", .number(minimum))]
        case .exponential(let gamma):
            return [("schedule", .string("exponential")), ("gamma", .number(gamma))]
        case .oneCycle(let c):
            return [("schedule", .string("one-cycle")), ("pct_start", .number(c.pctStart)),
                    ("anneal_strategy", .string(c.cosineAnnealing ? "cos" : "linear")),
                    ("div_factor", .number(c.divFactor)), ("final_div_factor", .number(c.finalDivFactor))]
        case .reduceOnPlateau(let p):
            return [("schedule", .string("plateau")), ("factor", .number(p.factor)), ("patience", .number(p.patience)),
                    ("threshold", .number(p.threshold)), ("cooldown", .number(p.cooldown)), ("min_lr", .number(p.minimum))]
        case .warmup(let epochs, let inner):
            return inner.jsonMembers + [("warmup_epochs", .number(epochs))]
        }
    }
}

/// A float setting as the decimal it prints as (0.3, not 0.30000001192…), as PyTorch's Python
/// floats hold it.
func decimal(_ value: Float) -> Double { Double(value.description) ?? Double(value) }

/// OneCycleLR's rate, two phases as in `torch.optim.lr_scheduler.OneCycleLR.get_lr`.
private func oneCycleRate(_ c: LearningRateSchedule.OneCycle, base: Double, step: Double, totalSteps: Double) -> Double {
    let initial = base / decimal(c.divFactor), final = initial / decimal(c.finalDivFactor)
    let end1 = decimal(c.pctStart) * totalSteps - 1, end2 = totalSteps - 1
    func anneal(_ start: Double, _ end: Double, _ from: Double, _ to: Double) -> Double {
        // A phase of no length is at its end (PyTorch would divide by zero).
        let pct = to - from > 0 ? Swift.min((step - from) / (to - from), 1) : 1
        if c.cosineAnnealing { return end + (start - end) / 2 * (_cos(Double.pi * pct) + 1) }
        return (end - start) * pct + start
    }
    if step <= end1 { return anneal(initial, base, 0, end1) }
    return anneal(base, final, end1, end2)
}

/// PyTorch's ReduceLROnPlateau state (mode min, threshold_mode rel): `observe` each epoch's
/// validation loss; `rate` is the rate to train with.
public struct PlateauTracker: Sendable {
    public let settings: LearningRateSchedule.Plateau
    /// The current rate (the base rate until the first reduction).
    public private(set) var rate: Double
    /// Reductions so far.
    public private(set) var reductions = 0
    private var best = Double.infinity
    private var badEpochs = 0
    private var cooldownLeft = 0

    public init(_ settings: LearningRateSchedule.Plateau, rate: Float) {
        self.settings = settings
        self.rate = Double(rate)
    }

    /// One epoch's validation loss (`scheduler.step(loss)`).
    public mutating func observe(_ loss: Float) {
        let current = Double(loss)
        if current < best * (1 - decimal(settings.threshold)) {
            best = current
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownLeft > 0 {
            cooldownLeft -= 1
            badEpochs = 0
        }
        if badEpochs > settings.patience {
            let reduced = Swift.max(rate * decimal(settings.factor), decimal(settings.minimum))
            if rate - reduced > 1e-8 {
                rate = reduced
                reductions += 1
            }
            cooldownLeft = settings.cooldown
            badEpochs = 0
        }
    }
}
