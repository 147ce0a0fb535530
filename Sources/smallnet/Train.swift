// `smallnet train`: build a model for a budget, train it on FashionMNIST, report and save results.
import ArgumentParser
import SmallNet
#if canImport(Glibc)
import Glibc
#endif

extension OptimizerKind: ExpressibleByArgument {}
extension Architecture: ExpressibleByArgument {}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on FashionMNIST and print its test accuracy.")

    @Option(help: "Model family: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")).")
    var arch: Architecture = .fcn
    @Option(help: "Trainable-parameter budget (the model lands within ±2 %).")
    var params: Int = 100_000
    @Option(help: "Explicit FCN hidden widths, comma-separated (overrides --params), e.g. 256,128.")
    var hidden: String?
    @Option(help: "Explicit CNN block widths, comma-separated (overrides --params), e.g. 32,64,128.")
    var channels: String?
    @Option(help: "CNN head: linear (flatten + linear) or gap (global average pooling + linear).")
    var head: String?
    @Option(help: "Epochs (default: the architecture's recipe).")
    var epochs: Int?
    @Option(name: .customLong("batch-size"), help: "Mini-batch size.")
    var batchSize: Int?
    @Option(help: "Optimizer: sgd, rmsprop, adam, adamw, adagrad.")
    var optimizer: OptimizerKind?
    @Option(help: "Learning rate (default: the optimizer's recipe value).")
    var lr: Float?
    @Option(help: "Momentum (SGD, RMSProp).")
    var momentum: Float?
    @Option(name: .customLong("weight-decay"), help: "Weight decay (L2 for SGD/RMSProp/Adam/Adagrad, decoupled for AdamW).")
    var weightDecay: Float?
    @Flag(help: "AMSGrad: divide by the largest second moment so far (adam, adamw).")
    var amsgrad = false
    @Option(help: "Learning-rate schedule: constant, step, cosine, exponential, one-cycle, plateau (needs --validation).")
    var schedule: String?
    @Option(name: .customLong("warmup"), help: "Warm-up epochs (cosine: 1 by default; other schedules: none by default).")
    var warmup: Double?
    @Option(name: .customLong("step-size"), help: "Epochs per decay of the step schedule.")
    var stepSize: Int = 10
    @Option(help: "Decay factor of the step schedule (and, per epoch, of the exponential one).")
    var gamma: Float = 0.1
    @Option(help: "Epochs without improvement of the validation loss before the plateau schedule lowers the rate.")
    var patience: Int = 10
    @Option(help: "Factor the plateau schedule multiplies the rate by.")
    var factor: Float = 0.1
    @Option(name: .customLong("clip-grad-norm"), help: "Scale the gradients to this total 2-norm at most before each step (0: off).")
    var clipGradNorm: Float = 0
    @Option(name: .customLong("clip-grad-value"), help: "Clamp each gradient element to ±this before each step (0: off).")
    var clipGradValue: Float = 0
    @Option(help: "Dropout probability after each hidden layer.")
    var dropout: Float?
    @Option(name: .customLong("batch-norm"), help: "Batch normalisation after each hidden layer: on or off.")
    var batchNorm: String?
    @Option(name: .customLong("label-smoothing"), help: "Label smoothing of the cross-entropy, in [0, 1).")
    var labelSmoothing: Float?
    @Option(help: "Augmentation: none, or a list of crop[=PAD] and flip, e.g. crop=2,flip.")
    var augment: String?
    @Option(help: "Initialisation: kaiming, pytorch, xavier_uniform, xavier_normal, orthogonal, kaiming_fan_out, kaiming_uniform.")
    var initialization: String?
    @Option(help: "Random seed (initialisation, shuffling, dropout, augmentation).")
    var seed: UInt64 = 0
    @Option(help: "Threads for the kernels (default: all processors).")
    var threads: Int?
    @Option(help: "FashionMNIST directory (default: $SMALLNET_DATA or \(FashionMNIST.defaultDirectory)).")
    var data: String?
    @Flag(name: .customLong("no-verify"), help: "Skip the SHA-256 check of the data files (for other IDX data).")
    var noVerify = false
    @Option(help: "Hold out this many training images for validation; report on them per epoch.")
    var validation: Int = 0
    @Option(name: .customLong("train-limit"), help: "Use only the first N training images (quick runs).")
    var trainLimit: Int?
    @Option(help: "Write the results as JSON to this file.")
    var json: String?
    @Option(help: "Save the trained model to this .safetensors file (with its preprocessing, class names and training settings).")
    var save: String?

    func recipe() throws -> Recipe {
        var r = Recipe.defaults(for: arch, budget: params)
        if let hidden {
            let widths = hidden.split(separator: ",").map { Int($0.filter { $0 != " " }) }
            guard !widths.isEmpty, widths.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--hidden must be positive integers separated by commas, got '\(hidden)'")
            }
            r.hidden = widths.map { $0! }
        }
        if let channels {
            let widths = channels.split(separator: ",").map { Int($0.filter { $0 != " " }) }
            guard !widths.isEmpty, widths.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--channels must be positive integers separated by commas, got '\(channels)'")
            }
            r.channels = widths.map { $0! }
        }
        if let head {
            guard let value = CNN.Head(rawValue: head) else { throw ValidationError("--head must be linear or gap, got '\(head)'") }
            r.cnnHead = value
        }
        if let epochs { r.training.epochs = epochs }
        if let batchSize { r.training.batchSize = batchSize }
        if let optimizer, optimizer != r.optimizer {
            // The recipe's hyper-parameters belong to its own optimizer: another one starts
            // from its own defaults.
            r.optimizer = optimizer
            r.learningRate = nil
            r.momentum = nil
            r.weightDecay = nil
        }
        if let lr { r.learningRate = lr }
        if let momentum { r.momentum = momentum }
        if let weightDecay { r.weightDecay = weightDecay }
        if amsgrad {
            guard r.optimizer == .adam || r.optimizer == .adamw else {
                throw ValidationError("--amsgrad is a setting of adam and adamw, not \(r.optimizer.rawValue)")
            }
            r.amsgrad = true
        }
        if let schedule {
            switch schedule {
            case "constant": r.training.schedule = .constant
            case "step": r.training.schedule = .step(stepSize: stepSize, gamma: gamma)
            case "cosine": r.training.schedule = .cosine(warmupEpochs: warmup ?? 1, minimum: 0)
            case "exponential": r.training.schedule = .exponential(gamma: gamma)
            case "one-cycle": r.training.schedule = .oneCycle(.init())
            case "plateau":
                guard validation > 0 else {
                    throw ValidationError("--schedule plateau lowers the rate on the validation loss: give --validation N (held-out training images)")
                }
                r.training.schedule = .reduceOnPlateau(.init(factor: factor, patience: patience))
            default: throw ValidationError("--schedule must be constant, step, cosine, exponential, one-cycle or plateau, got '\(schedule)'")
            }
            if schedule != "cosine", let warmup, warmup > 0 {
                r.training.schedule = .warmup(epochs: warmup, r.training.schedule)
            }
        } else if let warmup, case .cosine(_, let minimum) = r.training.schedule {
            r.training.schedule = .cosine(warmupEpochs: warmup, minimum: minimum)
        }
        if let dropout { r.dropout = dropout }
        if let batchNorm {
            guard batchNorm == "on" || batchNorm == "off" else {
                throw ValidationError("--batch-norm must be on or off, got '\(batchNorm)'")
            }
            r.batchNorm = batchNorm == "on"
        }
        if let labelSmoothing { r.training.labelSmoothing = labelSmoothing }
        if let augment { r.training.augmentation = try parseAugmentation(augment) }
        if let initialization {
            guard let scheme = WeightInit(rawValue: initialization) else {
                let names = WeightInit.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("--initialization must be one of \(names), got '\(initialization)'")
            }
            r.initialization = scheme
        }
        r.training.seed = seed
        r.training.clipGradNorm = clipGradNorm
        r.training.clipGradValue = clipGradValue
        r.training.threads = threads ?? ThreadPool.availableProcessors
        r.validationSize = validation
        try r.training.validate()
        return r
    }

    func run() throws {
        exitWithStudyParent()
        reportingErrors {
            let recipe = try recipe()
            if let save { try checkOutputFile(save, what: "checkpoint") }
            let directory = FashionMNIST.resolveDirectory(data)
            var train = try FashionMNIST.load(directory: directory, train: true, verify: !noVerify)
            let test = try FashionMNIST.load(directory: directory, train: false, verify: !noVerify)
            if let trainLimit {
                guard trainLimit > 0 else { throw SmallNetError.invalidArgument("--train-limit must be positive") }
                train = try train.prefix(trainLimit)
            }
            var evaluation = test
            if recipe.validationSize > 0 {
                (train, evaluation) = try train.split(holdout: recipe.validationSize, seed: recipe.training.seed)
            }
            let model = try recipe.buildModel(inputShape: train.sampleShape, classes: train.classCount)
            let optimizer = try recipe.buildOptimizer(for: model)
            printArchitecture(model)
            print("optimizer \(recipe.optimizer.rawValue), lr \(recipe.effectiveLearningRate), \(recipe.training.epochs) epochs, batch \(recipe.training.batchSize), \(recipe.training.threads) threads")
            let reporter = ProgressPrinter(evaluationName: recipe.validationSize > 0 ? "val" : "test")
            let start = monotonicSeconds()
            let pool = try threadPool(recipe.training.threads)
            let history = try Trainer.fit(model: model, optimizer: optimizer, train: train, evaluation: evaluation,
                                          config: recipe.training, pool: pool,
                                          progress: reporter.step, onEpoch: reporter.epoch)
            let trainSeconds = monotonicSeconds() - start
            let result = try Trainer.evaluate(model: model, data: test, pool: pool)
            print("test accuracy \(percent(result.accuracy)) %, test loss \(fixed(result.loss, 4)), \(model.parameterCount) parameters, trained in \(fixed(trainSeconds, 1)) s")
            if let save {
                try Checkpoint.save(model, to: save, trainingConfig: recipe.json.serialized())
                print("saved the model to \(save)")
            }
            if let json {
                try writeTextFile(json, resultJSON(recipe: recipe, model: model, history: history, test: result,
                                                   seconds: trainSeconds, checkpoint: save).serialized(indent: 2) + "\n")
            }
        }
    }
}

func parseAugmentation(_ text: String) throws -> Augmentation? {
    if text == "none" { return nil }
    var padding = 0, flip = false
    for item in text.split(separator: ",") {
        let parts = item.split(separator: "=", maxSplits: 1)
        switch parts[0] {
        case "crop":
            guard parts.count == 1 || Int(parts[1]) != nil else { throw ValidationError("bad crop padding in --augment '\(text)'") }
            padding = parts.count == 2 ? Int(parts[1])! : 2
        case "flip": flip = true
        default: throw ValidationError("--augment takes none, or crop[=PAD] and flip separated by commas, got '\(text)'")
        }
    }
    do { return try Augmentation(cropPadding: padding, horizontalFlip: flip) } catch let e as SmallNetError {
        throw ValidationError(e.message)
    }
}

func printArchitecture(_ model: Sequential) {
    print("model (input \(model.inputShape.map(String.init).joined(separator: "×"))):")
    for (i, layer) in model.layerSummaries.enumerated() {
        let shape = layer.outputShape.map(String.init).joined(separator: "×")
        let params = layer.parameters > 0 ? "\(layer.parameters)" : ""
        print("  \(pad(String(i), 3)) \(pad(layer.summary, 28)) \(pad(shape, 12)) \(params)")
    }
    print("  trainable parameters: \(model.parameterCount)")
}

func resultJSON(recipe: Recipe, model: Sequential, history: [EpochRecord], test: Evaluation, seconds: Double,
                checkpoint: String? = nil) -> JSON {
    .object(resultHeader() + [
        ("arch", .string(recipe.architecture.rawValue)),
        ("layers", .array(model.layerSummaries.map { .string($0.summary) })),
        ("params", .number(model.parameterCount)),
        ("epochs", .number(recipe.training.epochs)),
        ("optimizer", .string(recipe.optimizer.rawValue)),
        ("lr", .number(recipe.effectiveLearningRate)),
        ("seed", .number(Double(recipe.training.seed))),
        ("cpu", .string(cpuModel())),
        ("test_accuracy", .number(test.accuracy)),
        ("test_loss", .number(test.loss)),
        ("train_seconds", .number(seconds)),
        ("config", recipe.json),
        ("history", .array(history.map { record in
            .object([
                ("epoch", .number(record.epoch)),
                ("train_loss", .number(record.trainLoss)),
                ("train_accuracy", .number(record.trainAccuracy)),
                ("eval_loss", record.evalLoss.map { .number($0) } ?? .null),
                ("eval_accuracy", record.evalAccuracy.map { .number($0) } ?? .null),
                ("lr", .number(record.learningRate)),
                ("seconds", .number(record.seconds)),
            ])
        })),
        ("confusion", .array(test.confusion.map { .array($0.map { .number($0) }) })),
        ("per_class_accuracy", .array(test.perClassAccuracy.map { .number($0) })),
        ("checkpoint", checkpoint.map { .string($0) } ?? .null),
    ])
}
