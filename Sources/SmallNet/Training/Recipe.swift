// Recipes: everything one training run needs, with the defaults the CLI, C and Python share.

/// The model families.
public enum Architecture: String, CaseIterable, Sendable {
    case fcn, cnn
}

/// One training run: the model, the optimizer and the loop settings.
///
/// `Recipe.defaults(for:)` holds the tuned defaults, so that a user who gives only an
/// architecture and a budget gets the best accuracy smallnet reaches in reasonable time.
public struct Recipe: Sendable {
    public var architecture: Architecture = .fcn
    /// Trainable-parameter budget; the builder lands within ±2 %.
    public var parameterBudget = 100_000
    /// Explicit hidden widths (FCN); overrides the budget when set.
    public var hidden: [Int]? = nil
    /// Proportions of the FCN's hidden widths when sized from a budget.
    public var fcnShape: [Double] = [1, 0.5]
    /// Proportions of the CNN's block widths when sized from a budget.
    public var cnnShape: [Double] = [1, 2, 4]
    /// Explicit CNN block widths; overrides the budget when set.
    public var channels: [Int]? = nil
    public var cnnHead: CNN.Head = .linear
    public var batchNorm = true
    /// Dropout after each hidden ReLU; nil: the recipe's choice for the budget.
    public var dropout: Float? = nil
    public var initialization: WeightInit = .kaimingNormal
    public var optimizer: OptimizerKind = .adamw
    public var learningRate: Float? = nil
    public var momentum: Float? = nil
    public var weightDecay: Float? = nil
    /// AMSGrad (Adam and AdamW only).
    public var amsgrad = false
    public var training = TrainingConfig()
    /// Samples held out of the training set for validation (0: evaluate on the test set).
    public var validationSize = 0

    public init() {}

    /// The tuned defaults for an architecture at a parameter budget.
    public static func defaults(for architecture: Architecture, budget: Int = 100_000) -> Recipe {
        var r = Recipe()
        r.architecture = architecture
        r.parameterBudget = budget
        switch architecture {
        case .fcn:
            r.training.epochs = 30
            r.training.batchSize = 64
            r.training.schedule = .cosine(warmupEpochs: 1, minimum: 0)
            r.training.labelSmoothing = 0.1
            // Shifts and flips cost small FCNs more capacity than they give back: none.
            r.training.augmentation = nil
        case .cnn:
            r.optimizer = .sgd
            r.momentum = 0.9
            // Light decay: 1e-4 beat none on the 20K, 50K and 100K models (+0.25, +0.16, +0.05
            // points; at 10K −0.11, within run-to-run noise).
            r.weightDecay = 1e-4
            r.training.epochs = 30
            r.training.batchSize = 64
            r.training.schedule = .cosine(warmupEpochs: 1, minimum: 0)
            r.training.labelSmoothing = 0.1
            // Flips help every size; 1-pixel shifts help from about 15K weights up and cost the
            // smaller models, which underfit already.
            r.training.augmentation = try? Augmentation(cropPadding: budget >= 15_000 ? 1 : 0, horizontalFlip: true)
        }
        return r
    }

    /// The dropout used when none is given: none for FCNs under 75K parameters (they
    /// underfit already), 0.1 above.
    public var effectiveDropout: Float {
        if let dropout { return dropout }
        if architecture == .cnn { return 0 }
        return hidden == nil && parameterBudget < 75_000 ? 0 : 0.1
    }

    /// The learning rate used when none is given.
    public var effectiveLearningRate: Float {
        if let learningRate { return learningRate }
        switch optimizer {
        case .sgd: return 0.05
        case .rmsprop: return 0.001
        case .adam, .adamw: return 0.002
        case .adagrad: return 0.01
        }
    }

    /// Builds the model for a (C, H, W) input and `classes` outputs; the seed fixes the init.
    /// - Throws: `invalidArgument` for an input shape or class count out of range, or the
    ///   builders' own errors.
    public func buildModel(inputShape: [Int] = [1, 28, 28], classes: Int = 10) throws -> Sequential {
        try require(inputShape.count == 3 && inputShape.allSatisfy { $0 >= 1 && $0 <= 1 << 16 }
                        && inputShape.reduce(1, *) <= 1 << 26,
                    "input shape must be (C, H, W) with sizes in 1...65536 and at most 2^26 values, got \(inputShape)")
        try require(classes >= 2 && classes <= 1 << 20, "classes must be in 2...1048576, got \(classes)")
        var generator = RandomGenerator(seed: training.seed)
        switch architecture {
        case .fcn:
            let widths = try hidden ?? FCN.hiddenWidths(budget: parameterBudget, inputSize: inputShape.reduce(1, *),
                                                        classes: classes, shape: fcnShape, batchNorm: batchNorm)
            return try FCN.build(inputShape: inputShape, classes: classes, hidden: widths, dropout: effectiveDropout,
                                 batchNorm: batchNorm, initialization: initialization, generator: &generator)
        case .cnn:
            let widths = try channels ?? CNN.channelWidths(budget: parameterBudget, inputShape: inputShape,
                                                           classes: classes, shape: cnnShape, head: cnnHead)
            return try CNN.build(inputShape: inputShape, classes: classes, channels: widths, head: cnnHead,
                                 dropout: effectiveDropout, initialization: initialization, generator: &generator)
        }
    }

    /// Builds the optimizer over `model`'s parameters.
    public func buildOptimizer(for model: Sequential) throws -> Optimizer {
        try optimizer.make(parameters: model.parameters, learningRate: effectiveLearningRate, momentum: momentum,
                           weightDecay: weightDecay, amsgrad: amsgrad)
    }

    /// The settings as JSON (for results files and checkpoint metadata).
    public var json: JSON {
        var members: [(String, JSON)] = [
            ("arch", .string(architecture.rawValue)),
            ("param_budget", .number(parameterBudget)),
            ("batch_norm", .bool(batchNorm)),
            ("dropout", .number(effectiveDropout)),
            ("init", .string(initialization.rawValue)),
            ("optimizer", .string(optimizer.rawValue)),
            ("lr", .number(effectiveLearningRate)),
            ("epochs", .number(training.epochs)),
            ("batch_size", .number(training.batchSize)),
            ("seed", .number(Double(training.seed))),
            ("label_smoothing", .number(training.labelSmoothing)),
            ("threads", .number(training.threads)),
        ]
        if let hidden { members.append(("hidden", .array(hidden.map { .number($0) }))) }
        if let channels { members.append(("channels", .array(channels.map { .number($0) }))) }
        if architecture == .cnn { members.append(("head", .string(cnnHead.rawValue))) }
        if let momentum = momentum ?? optimizer.defaultMomentum { members.append(("momentum", .number(momentum))) }
        members.append(("weight_decay", .number(weightDecay ?? optimizer.defaultWeightDecay)))
        if amsgrad { members.append(("amsgrad", .bool(true))) }
        members.append(contentsOf: training.schedule.jsonMembers)
        if training.clipGradNorm > 0 { members.append(("clip_grad_norm", .number(training.clipGradNorm))) }
        if training.clipGradValue > 0 { members.append(("clip_grad_value", .number(training.clipGradValue))) }
        let aug = training.augmentation
        members.append(("crop_padding", .number(aug?.cropPadding ?? 0)))
        members.append(("horizontal_flip", .bool(aug?.horizontalFlip ?? false)))
        return .object(members)
    }
}
