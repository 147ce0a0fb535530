// The training loop: fit with progress and history, evaluate, predict.

/// Settings of one training run.
public struct TrainingConfig: Sendable {
    public var epochs = 15
    public var batchSize = 64
    /// Seeds shuffling, dropout and augmentation (initialisation takes its own generator).
    public var seed: UInt64 = 0
    public var schedule: LearningRateSchedule = .constant
    public var labelSmoothing: Float = 0
    /// The training loss; nil: softmax cross-entropy with `labelSmoothing`. Losses other than
    /// cross-entropy and NLL train against the labels' one-hot encoding (see `Loss.batchLoss`).
    public var loss: Loss? = nil
    public var augmentation: Augmentation? = nil
    /// Threads for the kernels: the size of the pool the driver (the command line, the C API)
    /// passes to `Trainer.fit`; recorded with the run's settings.
    public var threads = 1
    /// Gradient clipping between backward and the optimizer step (0 = off): each gradient
    /// element clamped to ±clipGradValue (`clip_grad_value_`), then all gradients scaled to a
    /// total 2-norm of at most clipGradNorm (`clip_grad_norm_`).
    public var clipGradNorm: Float = 0
    public var clipGradValue: Float = 0

    public init() {}

    /// - Throws: `invalidArgument` naming the first invalid setting.
    public func validate() throws {
        try require(epochs >= 0 && epochs <= 100_000, "epochs must be in 0...100000, got \(epochs)")
        try require(batchSize >= 1 && batchSize <= 1 << 16, "batch size must be in 1...65536, got \(batchSize)")
        try require(labelSmoothing >= 0 && labelSmoothing < 1, "label smoothing must be in [0, 1), got \(labelSmoothing)")
        try require(threads >= 1 && threads <= 64, "threads must be in 1...64, got \(threads)")
        try schedule.validate()
        try checkHyperParameter("clip_grad_norm", clipGradNorm, min: 0)
        try checkHyperParameter("clip_grad_value", clipGradValue, min: 0)
        if let loss {
            try loss.validate()
            try require(loss.reduction != .none, "training needs a reduced loss (mean or sum), not reduction none")
        }
    }
}

/// What the progress callback sees after each training step.
public struct TrainingProgress: Sendable {
    public var epoch: Int          // 1-based
    public var epochs: Int
    public var step: Int           // 1-based, within the epoch
    public var stepsPerEpoch: Int
    public var loss: Float         // this batch's loss
    public var imagesPerSecond: Double  // so far in this epoch
    public var learningRate: Float
}

/// One epoch of the history.
public struct EpochRecord: Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Float
    public var trainAccuracy: Float
    /// On the evaluation set (validation or test), when one was given.
    public var evalLoss: Float?
    public var evalAccuracy: Float?
    public var learningRate: Float
    public var seconds: Double
}

/// Loss, accuracy and confusion matrix on a dataset.
public struct Evaluation: Sendable {
    public var loss: Float
    public var accuracy: Float
    /// confusion[true][predicted] counts, classCount × classCount.
    public var confusion: [[Int]]
    /// Accuracy of each true class (0 for a class with no samples).
    public var perClassAccuracy: [Float] {
        confusion.enumerated().map { i, row in
            let total = row.reduce(0, +)
            return total == 0 ? 0 : Float(row[i]) / Float(total)
        }
    }
}

/// Trains models, evaluates them and predicts with them.
public enum Trainer {
    /// A batch loss this many times the first one (or ln(classes), when larger) stops
    /// training as diverged.
    public static let divergenceFactor: Float = 100

    /// Trains `model` on `train` with `optimizer`, evaluating on `evaluation` after each epoch,
    /// with `pool`'s threads (the caller's, nil for the calling thread alone; results do not
    /// depend on them). The model's random source is reseeded from `config.seed`.
    ///
    /// A model that records no preprocessing or class names takes the training data's, and
    /// raw pixels are then prepared with the model's preprocessing.
    ///
    /// Each epoch shuffles the samples (seeded), walks them in mini-batches (a final batch of
    /// one sample is dropped when a BatchNorm would refuse it), and after every step calls
    /// `progress`, which returns false to stop training after that step; `onEpoch` receives
    /// each epoch's record as soon as it is complete and returns false to stop there.
    /// - Returns: one record per completed epoch.
    /// - Throws: `invalidArgument` for a bad config or a dataset that does not fit the model;
    ///   `diverged` when the loss becomes NaN or infinite, or exceeds `divergenceFactor` times
    ///   where it started; `invalidArgument` for a reduce-on-plateau schedule without `evaluation`
    ///   (it reduces the rate on the evaluation loss, recorded after each epoch).
    @discardableResult
    public static func fit(model: Sequential, optimizer: Optimizer, train: Dataset, evaluation: Dataset? = nil,
                           config: TrainingConfig, pool: ThreadPool? = nil,
                           progress: ((TrainingProgress) -> Bool)? = nil,
                           onEpoch: ((EpochRecord) -> Bool)? = nil) throws -> [EpochRecord] {
        try config.validate()
        try require(train.count > 0, "the training set is empty")
        try checkCompatible(model, train)
        if let evaluation { try checkCompatible(model, evaluation) }
        try require(!config.schedule.needsValidationLoss || evaluation != nil,
                    "the reduce-on-plateau schedule needs validation data: it lowers the rate when the validation loss stops improving")
        if model.preprocessing == nil { try model.setPreprocessing(train.preprocessing) }
        if model.classNames.isEmpty { try model.setClassNames(train.classNames) }
        var run = try TrainingRun(model: model, optimizer: optimizer, train: train, config: config, pool: pool)
        let wasTraining = model.isTraining
        defer { model.isTraining = wasTraining; optimizer.learningRate = run.baseRate }
        var history: [EpochRecord] = []
        for epoch in 1...Swift.max(config.epochs, 1) where config.epochs > 0 {
            // Stopped inside the epoch: only completed epochs are recorded.
            guard var record = try run.trainEpoch(epoch, progress: progress) else { break }
            if let evaluation {
                let result = try evaluate(model: model, data: evaluation, pool: pool, loss: config.loss)
                record.evalLoss = result.loss
                record.evalAccuracy = result.accuracy
                run.plateau?.observe(result.loss)
            }
            history.append(record)
            if let onEpoch, !onEpoch(record) { break }
        }
        return history
    }

    /// Loss, accuracy and confusion matrix of `model` (in eval mode) on `data` (raw pixels
    /// prepared with the model's preprocessing). The loss is `loss` (see `Loss.batchLoss`), or
    /// softmax cross-entropy without smoothing when nil.
    /// - Throws: `invalidArgument` when the data does not fit the model.
    public static func evaluate(model: Sequential, data: Dataset, batchSize: Int = 128,
                                pool: ThreadPool? = nil, loss lossFunction: Loss? = nil) throws -> Evaluation {
        try checkCompatible(model, data)
        let classes = data.classCount
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var lossSum: Double = 0
        var correct = 0
        try forEachEvalBatch(model: model, data: data, batchSize: batchSize, pool: pool) { logits, labels, _ in
            let (loss, hits) = try labels.withUnsafeBufferPointer {
                try lossFunction?.batchLoss(input: logits, labels: $0, dInput: nil) ?? softmaxCrossEntropy(logits: logits, labels: $0)
            }
            lossSum += Double(loss) * Double(labels.count)
            correct += hits
            for (i, y) in labels.enumerated() {
                confusion[Int(y)][argmax(logits.data + i * classes, count: classes)] += 1
            }
        }
        return Evaluation(loss: Float(lossSum / Double(data.count)), accuracy: Float(correct) / Float(data.count),
                          confusion: confusion)
    }

    /// Class probabilities (N, classes) of `model` (in eval mode) for every sample of `data` (raw
    /// pixels prepared with the model's preprocessing).
    public static func predict(model: Sequential, data: Dataset, batchSize: Int = 128,
                               pool: ThreadPool? = nil) throws -> [Float] {
        try checkCompatible(model, data)
        let classes = data.classCount
        var out = [Float](repeating: 0, count: data.count * classes)
        try out.withUnsafeMutableBufferPointer { buffer in
            try forEachEvalBatch(model: model, data: data, batchSize: batchSize, pool: pool) { logits, _, first in
                softmax(logits, into: buffer.baseAddress! + first * classes, pool: pool)
            }
        }
        return out
    }

    private static func forEachEvalBatch(model: Sequential, data: Dataset, batchSize: Int, pool: ThreadPool?,
                                         _ body: (Tensor, [Int32], Int) throws -> Void) throws {
        try require(batchSize >= 1, "batch size must be positive, got \(batchSize)")
        let wasTraining = model.isTraining
        model.isTraining = false
        defer { model.isTraining = wasTraining }
        let batch = Tensor(uncheckedShape: [0], count: 0)
        var labels: [Int32] = []
        var unused = RandomGenerator(seed: 0)
        var first = 0
        let order = Array(0..<data.count)
        while first < data.count {
            let last = Swift.min(first + batchSize, data.count)
            data.gather(order[first..<last], into: batch, labels: &labels, preprocessing: model.preprocessing,
                        generator: &unused, pool: pool)
            let logits = try model.forward(batch, pool: pool)
            try body(logits, labels, first)
            first = last
        }
    }

    static func checkCompatible(_ model: Sequential, _ data: Dataset) throws {
        try require(data.count > 0, "the dataset is empty")
        guard data.sampleShape == model.inputShape else {
            throw SmallNetError.shapeMismatch("the data's samples are \(data.sampleShape) but the model takes \(model.inputShape)")
        }
        guard model.outputShape == [data.classCount] else {
            throw SmallNetError.shapeMismatch("the model outputs \(model.outputShape) values but the data has \(data.classCount) classes")
        }
    }
}

/// Index of the largest of `count` values.
func argmax(_ p: UnsafePointer<Float>, count: Int) -> Int {
    var best = 0
    for j in 1..<count where p[j] > p[best] { best = j }
    return best
}

/// The state of one `fit` that lasts from epoch to epoch: the shuffling generator, the sample
/// order, the step count the schedule follows, where the loss started, and the batch buffers.
private struct TrainingRun {
    let model: Sequential
    let optimizer: Optimizer
    let train: Dataset
    let config: TrainingConfig
    let pool: ThreadPool?
    let batchSize: Int, stepsPerEpoch: Int, totalSteps: Int
    let baseRate: Float
    var generator: RandomGenerator
    var order: [Int]
    var globalStep = 0
    var startingLoss: Float?
    /// Reduce-on-plateau's state, observed by `fit` after each evaluation.
    var plateau: PlateauTracker?
    let batch = Tensor(uncheckedShape: [0], count: 0)
    let dLogits = Tensor(uncheckedShape: [0], count: 0)
    var labels: [Int32] = []

    /// - Throws: `invalidArgument` when the data cannot make a single batch.
    init(model: Sequential, optimizer: Optimizer, train: Dataset, config: TrainingConfig, pool: ThreadPool?) throws {
        self.model = model
        self.optimizer = optimizer
        self.train = train
        self.config = config
        self.pool = pool
        generator = RandomGenerator(seed: config.seed)
        model.random.generator = generator.fork()
        batchSize = Swift.min(config.batchSize, train.count)
        var steps = (train.count + batchSize - 1) / batchSize
        // No training batch of one through a BatchNorm that refuses it (BatchNorm1d, or 1×1 maps).
        if train.count % batchSize == 1 && model.batchStatisticsRefusal(batch: 1, training: true) != nil { steps -= 1 }
        try require(steps > 0, "the training set is too small for a batch")
        stepsPerEpoch = steps
        totalSteps = steps * config.epochs
        baseRate = optimizer.learningRate
        order = Array(0..<train.count)
        if case .reduceOnPlateau(let settings) = config.schedule.withoutWarmup {
            plateau = PlateauTracker(settings, rate: baseRate)
        }
    }

    /// Epoch `epoch`: shuffles, walks the mini-batches (forward, loss, backward, step, with the
    /// schedule's rate), and calls `progress` after every step.
    /// - Returns: the epoch's record (without evaluation), or nil when `progress` stopped it.
    /// - Throws: `diverged` when the loss becomes NaN or infinite or exceeds
    ///   `Trainer.divergenceFactor` times where it started.
    mutating func trainEpoch(_ epoch: Int, progress: ((TrainingProgress) -> Bool)?) throws -> EpochRecord? {
        let start = monotonicSeconds()
        order.shuffle(using: &generator)
        model.isTraining = true
        var lossSum: Double = 0, correct = 0, seen = 0
        var rate = baseRate
        for step in 0..<stepsPerEpoch {
            let lo = step * batchSize, hi = Swift.min(lo + batchSize, train.count)
            train.gather(order[lo..<hi], into: batch, labels: &labels, preprocessing: model.preprocessing,
                         augmentation: config.augmentation, generator: &generator, pool: pool)
            rate = config.schedule.learningRate(base: plateau.map { Float($0.rate) } ?? baseRate,
                                                step: globalStep, totalSteps: totalSteps, stepsPerEpoch: stepsPerEpoch)
            optimizer.learningRate = rate
            let logits = try model.forward(batch, pool: pool)
            dLogits.resize(logits.shape)
            let (loss, hits) = try labels.withUnsafeBufferPointer {
                try config.loss?.batchLoss(input: logits, labels: $0, dInput: dLogits)
                    ?? softmaxCrossEntropy(logits: logits, labels: $0, labelSmoothing: config.labelSmoothing, dLogits: dLogits)
            }
            try checkDivergence(loss, epoch: epoch, step: step)
            optimizer.zeroGrad()
            try model.backward(dLogits, pool: pool)
            if config.clipGradValue > 0 { try clipGradValue(model.parameters, clipValue: config.clipGradValue) }
            if config.clipGradNorm > 0 { try clipGradNorm(model.parameters, maxNorm: config.clipGradNorm) }
            optimizer.step(pool: pool)
            globalStep += 1
            lossSum += Double(loss) * Double(hi - lo)
            correct += hits
            seen += hi - lo
            if let progress {
                let elapsed = monotonicSeconds() - start
                let info = TrainingProgress(epoch: epoch, epochs: config.epochs, step: step + 1,
                                            stepsPerEpoch: stepsPerEpoch, loss: loss,
                                            imagesPerSecond: Double(seen) / Swift.max(elapsed, 1e-9),
                                            learningRate: rate)
                if !progress(info) { return nil }
            }
        }
        return EpochRecord(epoch: epoch, trainLoss: Float(lossSum / Double(Swift.max(seen, 1))),
                           trainAccuracy: Float(correct) / Float(Swift.max(seen, 1)),
                           evalLoss: nil, evalAccuracy: nil, learningRate: rate, seconds: monotonicSeconds() - start)
    }

    /// Throws `diverged` for a NaN or infinite loss, or one far above where training started
    /// (long before it overflows).
    mutating func checkDivergence(_ loss: Float, epoch: Int, step: Int) throws {
        guard loss.isFinite else {
            throw SmallNetError.diverged("training diverged: the loss became \(loss) at epoch \(epoch), step \(step + 1) (try a smaller learning rate)")
        }
        if startingLoss == nil { startingLoss = Swift.max(loss, _log(Float(train.classCount))) }
        if let start = startingLoss, loss > Trainer.divergenceFactor * start {
            throw SmallNetError.diverged("training diverged: the loss rose to \(loss) at epoch \(epoch), step \(step + 1), over \(Int(Trainer.divergenceFactor))× its start \(start) (try a smaller learning rate)")
        }
    }
}
