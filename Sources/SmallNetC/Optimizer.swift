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
    case SN_OPTIMIZER_ADAGRAD: p.lr = 0.01; p.eps = 1e-10
    default: throw invalid("unknown optimizer kind \(kind) (SN_OPTIMIZER_SGD, _RMSPROP, _ADAM, _ADAMW or _ADAGRAD)")
    }
    return p
}

/// PyTorch's defaults of the settings beyond sn_optimizer_params.
func optimizerOptionsDefaults() -> sn_optimizer_options {
    sn_optimizer_options(struct_size: UInt32(MemoryLayout<sn_optimizer_options>.size), amsgrad: 0, maximize: 0,
                         lr_decay: 0, initial_accumulator_value: 0)
}

/// The smallest struct_size of sn_optimizer_options: the first one is today's.
let optimizerOptionsMinimumSize = MemoryLayout<sn_optimizer_options>.size

/// The optimizer of C params and options over `parameters`.
func makeOptimizer(_ parameters: [Parameter], _ p: sn_optimizer_params, _ o: sn_optimizer_options) throws -> Optimizer {
    try checkStructSize(p.struct_size, MemoryLayout<sn_optimizer_params>.size, "sn_optimizer_params")
    let maximize = try flag(o.maximize, "maximize")
    switch p.kind {
    case SN_OPTIMIZER_SGD:
        return try SGD(parameters: parameters, learningRate: p.lr, momentum: p.momentum, dampening: p.dampening,
                       weightDecay: p.weight_decay, nesterov: try flag(p.nesterov, "nesterov"), maximize: maximize)
    case SN_OPTIMIZER_RMSPROP:
        return try RMSProp(parameters: parameters, learningRate: p.lr, alpha: p.alpha, eps: p.eps,
                           weightDecay: p.weight_decay, momentum: p.momentum, centered: try flag(p.centered, "centered"),
                           maximize: maximize)
    case SN_OPTIMIZER_ADAM, SN_OPTIMIZER_ADAMW:
        return try Adam(parameters: parameters, learningRate: p.lr, beta1: p.beta1, beta2: p.beta2, eps: p.eps,
                        weightDecay: p.weight_decay, decoupled: p.kind == SN_OPTIMIZER_ADAMW,
                        amsgrad: try flag(o.amsgrad, "amsgrad"), maximize: maximize)
    case SN_OPTIMIZER_ADAGRAD:
        return try Adagrad(parameters: parameters, learningRate: p.lr, learningRateDecay: o.lr_decay,
                           weightDecay: p.weight_decay, initialAccumulatorValue: o.initial_accumulator_value,
                           eps: p.eps, maximize: maximize)
    default:
        throw invalid("unknown optimizer kind \(p.kind) (SN_OPTIMIZER_SGD, _RMSPROP, _ADAM, _ADAMW or _ADAGRAD)")
    }
}

@_cdecl("sn_optimizer_create")
public func sn_optimizer_create(_ model: OpaquePointer?, _ params: UnsafePointer<sn_optimizer_params>?,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    sn_optimizer_create_with_options(model, params, nil, out)
}

@_cdecl("sn_optimizer_options_default")
public func sn_optimizer_options_default(_ out: UnsafeMutablePointer<sn_optimizer_options>?) -> sn_status {
    guarded {
        try writeGrowable(optimizerOptionsDefaults(), to: try nonNull(out, "out"), minimumSize: optimizerOptionsMinimumSize,
                          "sn_optimizer_options")
    }
}

@_cdecl("sn_optimizer_create_with_options")
public func sn_optimizer_create_with_options(_ model: OpaquePointer?, _ params: UnsafePointer<sn_optimizer_params>?,
                                             _ options: UnsafePointer<sn_optimizer_options>?,
                                             _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let p = try nonNull(params, "params").pointee
        let out = try nonNull(out, "out")
        let o = try options.map {
            try readGrowable($0, defaults: optimizerOptionsDefaults(), minimumSize: optimizerOptionsMinimumSize,
                             "options->struct_size", "sn_optimizer_options")
        } ?? optimizerOptionsDefaults()
        store(OptimizerBox(try makeOptimizer(box.model.parameters, p, o)), .optimizer, into: out)
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

/// PyTorch's defaults of the schedule settings beyond sn_schedule.
func scheduleOptionsDefaults() -> sn_schedule_options {
    let c = LearningRateSchedule.OneCycle(), p = LearningRateSchedule.Plateau()
    return sn_schedule_options(struct_size: UInt32(MemoryLayout<sn_schedule_options>.size), warmup_every_kind: 0,
                               pct_start: c.pctStart, anneal_strategy: SN_ANNEAL_COS, div_factor: c.divFactor,
                               final_div_factor: c.finalDivFactor, factor: p.factor, patience: Int32(p.patience),
                               threshold: p.threshold, cooldown: Int32(p.cooldown))
}

/// The smallest struct_size of sn_schedule_options: the first one is today's.
let scheduleOptionsMinimumSize = MemoryLayout<sn_schedule_options>.size

/// Schedule options as passed in (NULL: the defaults).
func readScheduleOptions(_ options: UnsafePointer<sn_schedule_options>?, _ field: String) throws -> sn_schedule_options {
    guard let options else { return scheduleOptionsDefaults() }
    return try readGrowable(options, defaults: scheduleOptionsDefaults(), minimumSize: scheduleOptionsMinimumSize,
                            field, "sn_schedule_options")
}

/// The engine's schedule of a C schedule and its further settings. The kinds from EXPONENTIAL on
/// warm up over warmup_epochs; CONSTANT and STEP only with warmup_every_kind (COSINE has its own).
func schedule(from s: sn_schedule, options o: sn_schedule_options = scheduleOptionsDefaults()) throws -> LearningRateSchedule {
    try checkStructSize(s.struct_size, MemoryLayout<sn_schedule>.size, "sn_schedule")
    try checkStructSize(o.struct_size, MemoryLayout<sn_schedule_options>.size, "sn_schedule_options")
    let warmupEveryKind = try flag(o.warmup_every_kind, "warmup_every_kind")
    var result: LearningRateSchedule
    switch s.kind {
    case SN_SCHEDULE_CONSTANT: result = .constant
    case SN_SCHEDULE_STEP: result = .step(stepSize: Int(s.step_size), gamma: s.gamma)
    case SN_SCHEDULE_COSINE: result = .cosine(warmupEpochs: Double(s.warmup_epochs), minimum: s.min_lr)
    case SN_SCHEDULE_EXPONENTIAL: result = .exponential(gamma: s.gamma)
    case SN_SCHEDULE_ONE_CYCLE:
        guard o.anneal_strategy == SN_ANNEAL_COS || o.anneal_strategy == SN_ANNEAL_LINEAR else {
            throw invalid("anneal_strategy must be SN_ANNEAL_COS (0) or SN_ANNEAL_LINEAR (1), got \(o.anneal_strategy)")
        }
        result = .oneCycle(.init(pctStart: o.pct_start, cosineAnnealing: o.anneal_strategy == SN_ANNEAL_COS,
                                 divFactor: o.div_factor, finalDivFactor: o.final_div_factor))
    case SN_SCHEDULE_REDUCE_ON_PLATEAU:
        result = .reduceOnPlateau(.init(factor: o.factor, patience: Int(o.patience), threshold: o.threshold,
                                        cooldown: Int(o.cooldown), minimum: s.min_lr))
    default:
        throw invalid("unknown schedule kind \(s.kind) (SN_SCHEDULE_CONSTANT, _STEP, _COSINE, _EXPONENTIAL, _ONE_CYCLE or _REDUCE_ON_PLATEAU)")
    }
    if s.kind >= SN_SCHEDULE_EXPONENTIAL || (warmupEveryKind && s.kind != SN_SCHEDULE_COSINE) {
        guard s.warmup_epochs.isFinite && s.warmup_epochs >= 0 else {
            throw invalid("invalid warm-up epochs: \(s.warmup_epochs) (must be ≥ 0)")
        }
        if s.warmup_epochs > 0 { result = .warmup(epochs: Double(s.warmup_epochs), result) }
    }
    try result.validate()
    return result
}

/// The C form of an engine schedule and its further settings (unused fields keep neutral values).
func schedule(_ schedule: LearningRateSchedule) -> (sn_schedule, sn_schedule_options) {
    var s = sn_schedule()
    s.struct_size = UInt32(MemoryLayout<sn_schedule>.size)
    s.kind = SN_SCHEDULE_CONSTANT
    s.step_size = 10
    s.gamma = 0.1
    s.warmup_epochs = 0
    s.min_lr = 0
    var o = scheduleOptionsDefaults()
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
    case .exponential(let gamma):
        s.kind = SN_SCHEDULE_EXPONENTIAL
        s.gamma = gamma
    case .oneCycle(let c):
        s.kind = SN_SCHEDULE_ONE_CYCLE
        o.pct_start = c.pctStart
        o.anneal_strategy = c.cosineAnnealing ? SN_ANNEAL_COS : SN_ANNEAL_LINEAR
        o.div_factor = c.divFactor
        o.final_div_factor = c.finalDivFactor
    case .reduceOnPlateau(let p):
        s.kind = SN_SCHEDULE_REDUCE_ON_PLATEAU
        s.min_lr = p.minimum
        o.factor = p.factor
        o.patience = Int32(clamping: p.patience)
        o.threshold = p.threshold
        o.cooldown = Int32(clamping: p.cooldown)
    case .warmup(let epochs, let inner):
        (s, o) = SmallNetC.schedule(inner)
        s.warmup_epochs = Float(epochs)
        o.warmup_every_kind = 1
    }
    return (s, o)
}

@_cdecl("sn_schedule_default")
public func sn_schedule_default(_ out: UnsafeMutablePointer<sn_schedule>?) -> sn_status {
    guarded { try nonNull(out, "out").pointee = schedule(Recipe.defaults(for: .fcn).training.schedule).0 }
}

@_cdecl("sn_schedule_lr")
public func sn_schedule_lr(_ schedule: UnsafePointer<sn_schedule>?, _ baseLR: Float, _ step: Int64, _ totalSteps: Int64,
                           _ stepsPerEpoch: Int64, _ out: UnsafeMutablePointer<Float>?) -> sn_status {
    sn_schedule_lr_with_options(schedule, nil, baseLR, step, totalSteps, stepsPerEpoch, out)
}

@_cdecl("sn_schedule_options_default")
public func sn_schedule_options_default(_ out: UnsafeMutablePointer<sn_schedule_options>?) -> sn_status {
    guarded {
        try writeGrowable(scheduleOptionsDefaults(), to: try nonNull(out, "out"), minimumSize: scheduleOptionsMinimumSize,
                          "sn_schedule_options")
    }
}

@_cdecl("sn_schedule_params_default")
public func sn_schedule_params_default(_ kind: Int32, _ out: UnsafeMutablePointer<sn_schedule>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        guard kind >= SN_SCHEDULE_CONSTANT && kind <= SN_SCHEDULE_REDUCE_ON_PLATEAU else {
            throw invalid("unknown schedule kind \(kind) (SN_SCHEDULE_CONSTANT, _STEP, _COSINE, _EXPONENTIAL, _ONE_CYCLE or _REDUCE_ON_PLATEAU)")
        }
        var s = schedule(.constant).0
        s.kind = kind
        out.pointee = s
    }
}

@_cdecl("sn_schedule_lr_with_options")
public func sn_schedule_lr_with_options(_ schedule: UnsafePointer<sn_schedule>?, _ options: UnsafePointer<sn_schedule_options>?,
                                        _ baseLR: Float, _ step: Int64, _ totalSteps: Int64, _ stepsPerEpoch: Int64,
                                        _ out: UnsafeMutablePointer<Float>?) -> sn_status {
    guarded {
        let s = try SmallNetC.schedule(from: try nonNull(schedule, "schedule").pointee,
                                       options: try readScheduleOptions(options, "options->struct_size"))
        let out = try nonNull(out, "out")
        guard baseLR.isFinite && baseLR >= 0 else { throw invalid("base_lr must be finite and ≥ 0, got \(baseLR)") }
        guard step >= 0, totalSteps >= 0, stepsPerEpoch >= 1, totalSteps < 1 << 40 else {
            throw invalid("need step ≥ 0, total_steps ≥ 0 and steps_per_epoch ≥ 1")
        }
        out.pointee = s.learningRate(base: baseLR, step: Int(step), totalSteps: Int(totalSteps),
                                     stepsPerEpoch: Int(stepsPerEpoch))
    }
}

// MARK: Gradient clipping

@_cdecl("sn_model_clip_grad_norm")
public func sn_model_clip_grad_norm(_ model: OpaquePointer?, _ maxNorm: Float, _ totalNorm: UnsafeMutablePointer<Float>?) -> sn_status {
    guarded {
        let total = try clipGradNorm(try modelBox(model).model.parameters, maxNorm: maxNorm)
        totalNorm?.pointee = total
    }
}

@_cdecl("sn_model_clip_grad_value")
public func sn_model_clip_grad_value(_ model: OpaquePointer?, _ clipValue: Float) -> sn_status {
    guarded { try clipGradValue(try modelBox(model).model.parameters, clipValue: clipValue) }
}
