// High-level training: sn_fit with progress callbacks and history, sn_evaluate, sn_predict.
import CSmallNetABI
import SmallNet

/// The C settings of a recipe's training loop.
func trainParams(_ recipe: Recipe) -> sn_train_params {
    var p = sn_train_params()
    p.struct_size = UInt32(MemoryLayout<sn_train_params>.size)
    p.epochs = Int32(recipe.training.epochs)
    p.batch_size = Int32(recipe.training.batchSize)
    p.seed = 0
    p.schedule = schedule(recipe.training.schedule).0
    p.label_smoothing = recipe.training.labelSmoothing
    p.crop_padding = Int32(recipe.training.augmentation?.cropPadding ?? 0)
    p.horizontal_flip = recipe.training.augmentation?.horizontalFlip == true ? 1 : 0
    p.threads = 0
    p.validation = nil
    return p
}

func architecture(_ arch: Int32) throws -> Architecture {
    switch arch {
    case SN_ARCH_FCN: return .fcn
    case SN_ARCH_CNN: return .cnn
    default: throw invalid("arch must be SN_ARCH_FCN (0) or SN_ARCH_CNN (1), got \(arch)")
    }
}

@_cdecl("sn_train_params_default")
public func sn_train_params_default(_ out: UnsafeMutablePointer<sn_train_params>?) -> sn_status {
    guarded { try nonNull(out, "out").pointee = trainParams(Recipe.defaults(for: .fcn)) }
}

@_cdecl("sn_recipe_train_params")
public func sn_recipe_train_params(_ arch: Int32, _ out: UnsafeMutablePointer<sn_train_params>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        out.pointee = trainParams(Recipe.defaults(for: try architecture(arch)))
    }
}

@_cdecl("sn_recipe_train_params_for_budget")
public func sn_recipe_train_params_for_budget(_ arch: Int32, _ budget: Int64,
                                              _ out: UnsafeMutablePointer<sn_train_params>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        out.pointee = trainParams(try recipe(arch, budget: budget))
    }
}

@_cdecl("sn_recipe_optimizer_params")
public func sn_recipe_optimizer_params(_ arch: Int32, _ out: UnsafeMutablePointer<sn_optimizer_params>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        out.pointee = try recipeOptimizerParams(Recipe.defaults(for: try architecture(arch)))
    }
}

@_cdecl("sn_recipe_optimizer_params_for_budget")
public func sn_recipe_optimizer_params_for_budget(_ arch: Int32, _ budget: Int64,
                                                  _ out: UnsafeMutablePointer<sn_optimizer_params>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        out.pointee = try recipeOptimizerParams(try recipe(arch, budget: budget))
    }
}

/// The recipe of `smallnet train --arch <arch> --params <budget>`.
/// - Throws: `invalidArgument` for an unknown arch or a budget outside 1...100,000,000.
private func recipe(_ arch: Int32, budget: Int64) throws -> Recipe {
    guard budget > 0 && budget <= 100_000_000 else { throw invalid("budget must be in 1...100000000, got \(budget)") }
    return Recipe.defaults(for: try architecture(arch), budget: Int(budget))
}

/// The optimizer settings of a recipe, as C params.
private func recipeOptimizerParams(_ recipe: Recipe) throws -> sn_optimizer_params {
    let kind: Int32
    switch recipe.optimizer {
    case .sgd: kind = SN_OPTIMIZER_SGD
    case .rmsprop: kind = SN_OPTIMIZER_RMSPROP
    case .adam: kind = SN_OPTIMIZER_ADAM
    case .adamw: kind = SN_OPTIMIZER_ADAMW
    case .adagrad: kind = SN_OPTIMIZER_ADAGRAD
    }
    var p = try optimizerDefaults(kind)
    p.lr = recipe.effectiveLearningRate
    if let momentum = recipe.momentum { p.momentum = momentum }
    if let decay = recipe.weightDecay { p.weight_decay = decay }
    return p
}

/// The engine's training settings for a C params struct (and the schedule's further settings).
func trainingConfig(_ p: sn_train_params, scheduleOptions: sn_schedule_options = scheduleOptionsDefaults()) throws -> TrainingConfig {
    try checkStructSize(p.struct_size, MemoryLayout<sn_train_params>.size, "sn_train_params")
    var config = TrainingConfig()
    config.epochs = Int(p.epochs)
    config.batchSize = Int(p.batch_size)
    config.seed = p.seed
    config.schedule = try schedule(from: p.schedule, options: scheduleOptions)
    config.labelSmoothing = p.label_smoothing
    let flip = try flag(p.horizontal_flip, "horizontal_flip")
    if p.crop_padding != 0 || flip {
        config.augmentation = try Augmentation(cropPadding: Int(p.crop_padding), horizontalFlip: flip)
    }
    guard p.threads >= 0 && p.threads <= 64 else { throw invalid("threads must be 0 (the library setting) or 1...64, got \(p.threads)") }
    config.threads = p.threads == 0 ? SharedThreads.shared.threadCount : Int(p.threads)
    try config.validate()
    return config
}

/// The smallest struct_size of sn_train_options: the first sn_train_options, which ends with
/// `loss`.
let trainOptionsMinimumSize = MemoryLayout<sn_train_options>.offset(of: \sn_train_options.loss)!
    + MemoryLayout<sn_loss_params>.size

/// Where each field appended to sn_train_options since the first one ends.
let trainOptionsFieldEnds = [
    MemoryLayout<sn_train_options>.offset(of: \sn_train_options.clip_grad_norm)! + MemoryLayout<Float>.size,
    MemoryLayout<sn_train_options>.offset(of: \sn_train_options.clip_grad_value)! + MemoryLayout<Float>.size,
    MemoryLayout<sn_train_options>.offset(of: \sn_train_options.schedule)! + MemoryLayout<sn_schedule_options>.size,
]

/// The default further settings of sn_fit_with_options: sn_fit's cross-entropy, no clipping,
/// the default schedule settings.
func trainOptionsDefaults() throws -> sn_train_options {
    var o = sn_train_options()
    o.struct_size = UInt32(MemoryLayout<sn_train_options>.size)
    o.loss = try lossDefaults(SN_LOSS_CROSS_ENTROPY)
    o.clip_grad_norm = 0
    o.clip_grad_value = 0
    o.schedule = scheduleOptionsDefaults()
    return o
}

@_cdecl("sn_train_options_default")
public func sn_train_options_default(_ out: UnsafeMutablePointer<sn_train_options>?) -> sn_status {
    guarded {
        try writeGrowable(try trainOptionsDefaults(), to: try nonNull(out, "out"), minimumSize: trainOptionsMinimumSize,
                          "sn_train_options")
    }
}

/// Train options as passed in (any struct_size from the first sn_train_options on; fields
/// beyond it at their defaults), or the defaults for NULL.
func readTrainOptions(_ options: UnsafePointer<sn_train_options>?) throws -> sn_train_options {
    guard let options else { return try trainOptionsDefaults() }
    return try readGrowable(options, defaults: try trainOptionsDefaults(), minimumSize: trainOptionsMinimumSize,
                            fieldEnds: trainOptionsFieldEnds, "options->struct_size", "sn_train_options")
}

/// The training loss of C options: nil (the original cross-entropy path, smoothed by
/// p.label_smoothing) for no options or default cross-entropy options, else the engine's loss.
private func trainingLoss(_ options: sn_train_options?, _ p: sn_train_params) throws -> Loss? {
    guard let o = options else { return nil }
    var loss = try loss(from: o.loss, "options->loss")
    guard loss.reduction != .none else { throw invalid("options->loss.reduction must be SN_REDUCTION_MEAN or _SUM for training") }
    guard loss.kind == .crossEntropy else { return loss }
    guard loss.labelSmoothing == 0 || loss.labelSmoothing == p.label_smoothing else {
        throw invalid("options->loss.label_smoothing (\(loss.labelSmoothing)) differs from params->label_smoothing (\(p.label_smoothing)), which training uses: leave it 0")
    }
    loss.labelSmoothing = p.label_smoothing
    var plain = Loss(.crossEntropy)
    plain.labelSmoothing = p.label_smoothing
    return loss == plain ? nil : loss
}

@_cdecl("sn_fit")
public func sn_fit(_ model: OpaquePointer?, _ optimizer: OpaquePointer?, _ train: OpaquePointer?,
                   _ params: UnsafePointer<sn_train_params>?, _ progress: sn_progress_fn?, _ user: UnsafeMutableRawPointer?,
                   _ history: UnsafeMutablePointer<sn_epoch_record>?, _ historyCapacity: Int,
                   _ nEpochs: UnsafeMutablePointer<Int>?) -> sn_status {
    sn_fit_with_options(model, optimizer, train, params, nil, progress, user, history, historyCapacity, nEpochs)
}

@_cdecl("sn_fit_with_options")
public func sn_fit_with_options(_ model: OpaquePointer?, _ optimizer: OpaquePointer?, _ train: OpaquePointer?,
                                _ params: UnsafePointer<sn_train_params>?, _ options: UnsafePointer<sn_train_options>?,
                                _ progress: sn_progress_fn?, _ user: UnsafeMutableRawPointer?,
                                _ history: UnsafeMutablePointer<sn_epoch_record>?, _ historyCapacity: Int,
                                _ nEpochs: UnsafeMutablePointer<Int>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let optimizer = try optimizerBox(optimizer).optimizer
        let data = try datasetBox(train, "train").dataset
        let p = try nonNull(params, "params").pointee
        let o = try options.map { try readTrainOptions($0) }
        var config = try trainingConfig(p, scheduleOptions: o?.schedule ?? scheduleOptionsDefaults())
        config.loss = try trainingLoss(o, p)
        config.clipGradNorm = o?.clip_grad_norm ?? 0
        config.clipGradValue = o?.clip_grad_value ?? 0
        try config.validate()
        let validation = p.validation == nil ? nil : try datasetBox(p.validation, "params->validation").dataset
        let capacity = history == nil ? 0 : try size(historyCapacity, "history_capacity")
        let owned = Set(box.model.parameters.map { ObjectIdentifier($0) })
        guard optimizer.parameters.allSatisfy({ owned.contains(ObjectIdentifier($0)) }) else {
            throw invalid("the optimizer was created for another model")
        }
        var completed = 0
        nEpochs?.pointee = 0
        func info(epochEnd record: EpochRecord?) -> sn_progress {
            var s = sn_progress()
            s.struct_size = UInt32(MemoryLayout<sn_progress>.size)
            s.eval_loss = .nan
            s.eval_accuracy = .nan
            if let record {
                s.epoch = Int32(record.epoch)
                s.epochs = Int32(config.epochs)
                s.epoch_end = 1
                s.learning_rate = record.learningRate
                s.train_loss = record.trainLoss
                s.train_accuracy = record.trainAccuracy
                s.eval_loss = record.evalLoss ?? .nan
                s.eval_accuracy = record.evalAccuracy ?? .nan
                s.epoch_seconds = record.seconds
            }
            return s
        }
        do {
            try Trainer.fit(model: box.model, optimizer: optimizer, train: data, evaluation: validation, config: config,
                pool: SharedThreads.shared.pool(threads: config.threads),
                progress: progress.map { callback in
                    { (t: TrainingProgress) -> Bool in
                        var s = info(epochEnd: nil)
                        s.epoch = Int32(t.epoch)
                        s.epochs = Int32(t.epochs)
                        s.step = Int64(t.step)
                        s.steps_per_epoch = Int64(t.stepsPerEpoch)
                        s.loss = t.loss
                        s.learning_rate = t.learningRate
                        s.images_per_second = t.imagesPerSecond
                        return callback(&s, user) == 0
                    }
                },
                onEpoch: { record in
                    if let history, completed < capacity {
                        history[completed] = sn_epoch_record(
                            epoch: Int32(record.epoch), train_loss: record.trainLoss, train_accuracy: record.trainAccuracy,
                            eval_loss: record.evalLoss ?? .nan, eval_accuracy: record.evalAccuracy ?? .nan,
                            learning_rate: record.learningRate, seconds: record.seconds)
                    }
                    completed += 1
                    nEpochs?.pointee = completed
                    guard let progress else { return true }
                    var s = info(epochEnd: record)
                    return progress(&s, user) == 0
                })
        }
        box.model.isTraining = true
    }
}

@_cdecl("sn_evaluate")
public func sn_evaluate(_ model: OpaquePointer?, _ data: OpaquePointer?, _ loss: UnsafeMutablePointer<Float>?,
                        _ accuracy: UnsafeMutablePointer<Float>?, _ confusion: UnsafeMutablePointer<Int64>?,
                        _ confusionCapacity: Int) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let dataset = try datasetBox(data, "data").dataset
        let classes = dataset.classCount
        if confusion != nil && confusionCapacity < classes * classes {
            throw SmallNetError.shapeMismatch("confusion holds \(confusionCapacity) values; \(classes) classes need \(classes * classes)")
        }
        let result = try Trainer.evaluate(model: box.model, data: dataset, pool: SharedThreads.shared.pool)
        loss?.pointee = result.loss
        accuracy?.pointee = result.accuracy
        if let confusion {
            for (i, row) in result.confusion.enumerated() {
                for (j, v) in row.enumerated() { confusion[i * classes + j] = Int64(v) }
            }
        }
    }
}

@_cdecl("sn_predict")
public func sn_predict(_ model: OpaquePointer?, _ data: OpaquePointer?, _ probabilities: UnsafeMutablePointer<Float>?,
                       _ capacity: Int) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let dataset = try datasetBox(data, "data").dataset
        let out = try nonNull(probabilities, "probabilities")
        let needed = try product(dataset.count, dataset.classCount)
        guard capacity >= needed else {
            throw SmallNetError.shapeMismatch("probabilities holds \(capacity) floats; \(dataset.count) samples need \(needed)")
        }
        let p = try Trainer.predict(model: box.model, data: dataset, pool: SharedThreads.shared.pool)
        for i in 0..<needed { out[i] = p[i] }
    }
}
