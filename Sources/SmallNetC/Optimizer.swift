// Optimizers and schedules.
import CSmallNetABI
import SmallNet

/// What an sn_optimizer handle holds.
final class OptimizerBox {
    let optimizer: Optimizer
    init(_ optimizer: Optimizer) { self.optimizer = optimizer }
}

func optimizerBox(_ handle: OpaquePointer?, _ name: String = "optimizer") throws -> OptimizerBox {
    try object(handle, .optimizer, name)
}

@_cdecl("sn_optimizer_params_default")
public func sn_optimizer_params_default(_ kind: Int32, _ out: UnsafeMutablePointer<sn_optimizer_params>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        out.pointee = try optimizerDefaults(kind)
    }
}

/// PyTorch's defaults for an optimizer kind.
func optimizerDefaults(_ kind: Int32) throws -> sn_optimizer_params {
    var p = sn_optimizer_params()
    p.struct_size = UInt32(MemoryLayout<sn_optimizer_params>.size)
    p.kind = kind
    p.momentum = 0; p.dampening = 0; p.nesterov = 0; p.weight_decay = 0
    p.alpha = 0.99; p.centered = 0; p.beta1 = 0.9; p.beta2 = 0.999; p.eps = 1e-8
    switch kind {
    case SN_OPTIMIZER_SGD: p.lr = 0.001
    case SN_OPTIMIZER_RMSPROP: p.lr = 0.01
    case SN_OPTIMIZER_ADAM: p.lr = 0.001
    case SN_OPTIMIZER_ADAMW: p.lr = 0.001; p.weight_decay = 0.01
    default: throw invalid("unknown optimizer kind \(kind) (SN_OPTIMIZER_SGD, _RMSPROP, _ADAM or _ADAMW)")
    }
    return p
}

@_cdecl("sn_optimizer_create")
public func sn_optimizer_create(_ model: OpaquePointer?, _ params: UnsafePointer<sn_optimizer_params>?,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let p = try nonNull(params, "params").pointee
        let out = try nonNull(out, "out")
        try checkStructSize(p.struct_size, MemoryLayout<sn_optimizer_params>.size, "sn_optimizer_params")
        let parameters = box.model.parameters
        let optimizer: Optimizer
        switch p.kind {
        case SN_OPTIMIZER_SGD:
            optimizer = try SGD(parameters: parameters, learningRate: p.lr, momentum: p.momentum, dampening: p.dampening,
                                weightDecay: p.weight_decay, nesterov: try flag(p.nesterov, "nesterov"))
        case SN_OPTIMIZER_RMSPROP:
            optimizer = try RMSProp(parameters: parameters, learningRate: p.lr, alpha: p.alpha, eps: p.eps,
                                    weightDecay: p.weight_decay, momentum: p.momentum, centered: try flag(p.centered, "centered"))
        case SN_OPTIMIZER_ADAM, SN_OPTIMIZER_ADAMW:
            optimizer = try Adam(parameters: parameters, learningRate: p.lr, beta1: p.beta1, beta2: p.beta2, eps: p.eps,
                                 weightDecay: p.weight_decay, decoupled: p.kind == SN_OPTIMIZER_ADAMW)
        default:
            throw invalid("unknown optimizer kind \(p.kind) (SN_OPTIMIZER_SGD, _RMSPROP, _ADAM or _ADAMW)")
        }
        store(OptimizerBox(optimizer), .optimizer, into: out)
    }
}

@_cdecl("sn_optimizer_step")
public func sn_optimizer_step(_ optimizer: OpaquePointer?) -> sn_status {
    guarded {
        try optimizerBox(optimizer).optimizer.step(pool: SharedThreads.shared.pool)
    }
}

@_cdecl("sn_optimizer_get_lr")
public func sn_optimizer_get_lr(_ optimizer: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?) -> sn_status {
    guarded {
        let box = try optimizerBox(optimizer)
        try nonNull(out, "out").pointee = box.optimizer.learningRate
    }
}

@_cdecl("sn_optimizer_set_lr")
public func sn_optimizer_set_lr(_ optimizer: OpaquePointer?, _ lr: Float) -> sn_status {
    guarded {
        let box = try optimizerBox(optimizer)
        guard lr.isFinite && lr >= 0 else { throw invalid("invalid learning rate: \(lr) (must be finite and ≥ 0)") }
        box.optimizer.learningRate = lr
    }
}

@_cdecl("sn_optimizer_free")
public func sn_optimizer_free(_ optimizer: OpaquePointer?) { freeHandle(optimizer, .optimizer) }

// MARK: Schedules

func schedule(from s: sn_schedule) throws -> LearningRateSchedule {
    try checkStructSize(s.struct_size, MemoryLayout<sn_schedule>.size, "sn_schedule")
    let result: LearningRateSchedule
    switch s.kind {
    case SN_SCHEDULE_CONSTANT: result = .constant
    case SN_SCHEDULE_STEP: result = .step(stepSize: Int(s.step_size), gamma: s.gamma)
    case SN_SCHEDULE_COSINE: result = .cosine(warmupEpochs: Double(s.warmup_epochs), minimum: s.min_lr)
    default: throw invalid("unknown schedule kind \(s.kind) (SN_SCHEDULE_CONSTANT, _STEP or _COSINE)")
    }
    try result.validate()
    return result
}

/// The C form of an engine schedule (unused fields keep neutral values).
func schedule(_ schedule: LearningRateSchedule) -> sn_schedule {
    var s = sn_schedule()
    s.struct_size = UInt32(MemoryLayout<sn_schedule>.size)
    s.kind = SN_SCHEDULE_CONSTANT
    s.step_size = 10
    s.gamma = 0.1
    s.warmup_epochs = 0
    s.min_lr = 0
    switch schedule {
    case .constant: break
    case .step(let size, let gamma):
        s.kind = SN_SCHEDULE_STEP
        s.step_size = Int32(clamping: size)
        s.gamma = gamma
    case .cosine(let warmup, let minimum):
        s.kind = SN_SCHEDULE_COSINE
        s.warmup_epochs = Float(warmup)
        s.min_lr = minimum
    }
    return s
}

@_cdecl("sn_schedule_default")
public func sn_schedule_default(_ out: UnsafeMutablePointer<sn_schedule>?) -> sn_status {
    guarded { try nonNull(out, "out").pointee = schedule(Recipe.defaults(for: .fcn).training.schedule) }
}

@_cdecl("sn_schedule_lr")
public func sn_schedule_lr(_ schedule: UnsafePointer<sn_schedule>?, _ baseLR: Float, _ step: Int64, _ totalSteps: Int64,
                           _ stepsPerEpoch: Int64, _ out: UnsafeMutablePointer<Float>?) -> sn_status {
    guarded {
        let s = try SmallNetC.schedule(from: try nonNull(schedule, "schedule").pointee)
        let out = try nonNull(out, "out")
        guard baseLR.isFinite && baseLR >= 0 else { throw invalid("base_lr must be finite and ≥ 0, got \(baseLR)") }
        guard step >= 0, totalSteps >= 0, stepsPerEpoch >= 1, totalSteps < 1 << 40 else {
            throw invalid("need step ≥ 0, total_steps ≥ 0 and steps_per_epoch ≥ 1")
        }
        out.pointee = s.learningRate(base: baseLR, step: Int(step), totalSteps: Int(totalSteps),
                                     stepsPerEpoch: Int(stepsPerEpoch))
    }
}
