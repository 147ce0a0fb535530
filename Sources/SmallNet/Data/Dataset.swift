// Dataset: labelled images in memory, prepared into float batches on demand.
import SmallNetKernels

/// Labelled images held in memory, as raw bytes (IDX files, 8-bit images) or as floats
/// (model inputs, used as given).
///
/// Batches are produced by `gather`, which prepares each raw image with a `Preprocessing`
/// (the model's when it records one, else the dataset's own) and optionally augments it, into
/// a float buffer of shape (N, C, H, W).
public final class Dataset {
    enum Pixels {
        case bytes([UInt8])
        /// (N, C, H, W), never resized: batches of consecutive samples are views of it.
        case floats(Tensor)
    }

    /// Per-sample shape (C, H, W).
    public let sampleShape: [Int]
    /// One label per sample, in 0..<classCount.
    public let labels: [Int32]
    /// Number of classes (labels are in 0..<classCount).
    public let classCount: Int
    /// Class names, `classCount` of them (or empty when unknown).
    public private(set) var classNames: [String]
    /// How raw pixels are prepared when no model says otherwise: the data's own statistics
    /// (or those given); `.identity` for float data, which is used as given.
    public let preprocessing: Preprocessing
    let pixels: Pixels

    /// Number of samples.
    public var count: Int { labels.count }
    /// Number of values per sample (C·H·W).
    public var sampleSize: Int { sampleShape.reduce(1, *) }
    /// Whether the samples are raw pixels (bytes) that a model's preprocessing applies to.
    public var isRaw: Bool { if case .bytes = pixels { return true } else { return false } }

    init(sampleShape: [Int], pixels: Pixels, labels: [Int32], classCount: Int, classNames: [String],
         preprocessing: Preprocessing) {
        self.sampleShape = sampleShape
        self.pixels = pixels
        self.labels = labels
        self.classCount = classCount
        self.classNames = classNames
        self.preprocessing = preprocessing
    }

    /// Names the classes (one name per class, or none to forget them).
    /// - Throws: `invalidArgument` for another number of names.
    public func setClassNames(_ names: [String]) throws {
        try require(names.isEmpty || names.count == classCount, "\(names.count) class names for \(classCount) classes")
        classNames = names
    }

    /// A dataset from float images (N, C, H, W) and labels, copied in; used as is (no
    /// normalisation).
    /// - Throws: `shapeMismatch` when the sizes disagree; `invalidArgument` for a label outside
    ///   0..<classCount, a non-finite pixel, or a bad shape.
    public convenience init(images: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>,
                            sampleShape: [Int], classCount: Int = 10, classNames: [String] = []) throws {
        try Dataset.checkSamples(pixelCount: images.count, labels: Array(labels), sampleShape: sampleShape,
                                 classCount: classCount, classNames: classNames)
        for (i, v) in images.enumerated() where !v.isFinite {
            throw SmallNetError.invalidArgument("pixel \(i) is not finite (\(v))")
        }
        let stored = Tensor(uncheckedShape: [labels.count] + sampleShape, count: images.count)
        if let base = images.baseAddress { stored.data.update(from: base, count: images.count) }
        self.init(sampleShape: sampleShape, pixels: .floats(stored), labels: Array(labels),
                  classCount: classCount, classNames: classNames, preprocessing: .identity)
    }

    /// A dataset from raw 8-bit images (N, C, H, W) and labels, kept as bytes. Without
    /// `preprocessing`, the images' own statistics are used (`Preprocessing.statistics`).
    /// - Throws: `shapeMismatch` when the sizes disagree; `invalidArgument` for a label outside
    ///   0..<classCount, a bad shape, or preprocessing that does not fit the channels.
    public convenience init(rawPixels: [UInt8], labels: [Int32], sampleShape: [Int], classCount: Int,
                            classNames: [String] = [], preprocessing: Preprocessing? = nil) throws {
        try Dataset.checkSamples(pixelCount: rawPixels.count, labels: labels, sampleShape: sampleShape,
                                 classCount: classCount, classNames: classNames)
        let prepared = try preprocessing ?? rawPixels.withUnsafeBufferPointer {
            try Preprocessing.statistics(of: $0, sampleShape: sampleShape)
        }
        try prepared.check(channels: sampleShape[0])
        self.init(sampleShape: sampleShape, pixels: .bytes(rawPixels), labels: labels, classCount: classCount,
                  classNames: classNames, preprocessing: prepared)
    }

    /// Checks sizes, labels and names shared by the initialisers.
    private static func checkSamples(pixelCount: Int, labels: [Int32], sampleShape: [Int], classCount: Int,
                                     classNames: [String]) throws {
        try require(sampleShape.count == 3 && sampleShape.allSatisfy { $0 > 0 },
                    "sample shape must be (C, H, W) with positive sizes, got \(sampleShape)")
        try require(classCount >= 2 && classCount <= 1 << 20, "class count must be in 2...1048576, got \(classCount)")
        try require(classNames.isEmpty || classNames.count == classCount,
                    "\(classNames.count) class names for \(classCount) classes")
        let size = try Tensor.elementCount(sampleShape)
        let (total, overflow) = size.multipliedReportingOverflow(by: labels.count)
        guard !overflow, pixelCount == total else {
            throw SmallNetError.shapeMismatch("\(labels.count) labels of shape \(sampleShape) need \(overflow ? "too many" : String(total)) values, got \(pixelCount)")
        }
        try require(labels.count > 0, "a dataset needs at least one sample")
        for (i, y) in labels.enumerated() where y < 0 || Int(y) >= classCount {
            throw SmallNetError.invalidArgument("label \(y) at index \(i) is outside 0..<\(classCount)")
        }
    }

    /// The samples at `indices`, in that order, as a new dataset.
    public func subset(_ indices: [Int]) throws -> Dataset {
        for i in indices where i < 0 || i >= count {
            throw SmallNetError.invalidArgument("sample index \(i) is outside 0..<\(count)")
        }
        let size = sampleSize
        let newPixels: Pixels
        switch pixels {
        case .bytes(let b):
            var out = [UInt8](); out.reserveCapacity(indices.count * size)
            for i in indices { out.append(contentsOf: b[(i * size)..<((i + 1) * size)]) }
            newPixels = .bytes(out)
        case .floats(let f):
            let out = Tensor(uncheckedShape: [indices.count] + sampleShape, count: indices.count * size)
            for (row, i) in indices.enumerated() { (out.data + row * size).update(from: f.data + i * size, count: size) }
            newPixels = .floats(out)
        }
        return Dataset(sampleShape: sampleShape, pixels: newPixels, labels: indices.map { labels[$0] },
                       classCount: classCount, classNames: classNames, preprocessing: preprocessing)
    }

    /// Splits off `holdout` samples, chosen by a seeded shuffle, as a second dataset.
    /// - Returns: (the rest, the held-out part).
    /// - Throws: `invalidArgument` unless 0 < holdout < count.
    public func split(holdout: Int, seed: UInt64) throws -> (Dataset, Dataset) {
        try require(holdout > 0 && holdout < count, "split size must be in 1..<\(count), got \(holdout)")
        var order = Array(0..<count)
        var generator = RandomGenerator(seed: seed)
        order.shuffle(using: &generator)
        return (try subset(Array(order[holdout...]).sorted()), try subset(Array(order[..<holdout]).sorted()))
    }

    /// The first `n` samples (all when n ≥ count).
    public func prefix(_ n: Int) throws -> Dataset {
        try subset(Array(0..<Swift.max(0, Swift.min(n, count))))
    }

    /// Copies samples `start..<start+count`, normalised as a model sees them, into `images`
    /// (count·C·H·W floats) and their labels into `labels`; either may be nil.
    /// - Throws: `invalidArgument` for a range outside the dataset.
    public func copySamples(start: Int, count n: Int, images: UnsafeMutablePointer<Float>?,
                            labels labelsOut: UnsafeMutablePointer<Int32>?) throws {
        try require(start >= 0 && n >= 0 && start <= count && n <= count - start,
                    "\(n) samples from \(start) do not fit in 0..<\(count)")
        let batch = Tensor(uncheckedShape: [0], count: 0)
        var unused = RandomGenerator(seed: 0)
        var gathered: [Int32] = []
        gather(Array(start..<(start + n))[...], into: batch, labels: &gathered, generator: &unused)
        images?.update(from: batch.data, count: batch.count)
        if let labelsOut { for (i, y) in gathered.enumerated() { labelsOut[i] = y } }
    }

    /// A dataset from an IDX image array (N, H, W) and label array (N) of bytes, prepared as
    /// (x/255 − mean)/std unless a model says otherwise.
    /// - Throws: `io` (naming `imagesName` / `labelsName`) when the arrays do not fit together or a
    ///   label is not below `classCount`; `invalidArgument` for bad settings.
    public static func fromIDX(images: IDXArray, labels: IDXArray, imagesName: String, labelsName: String,
                               classCount: Int, classNames: [String] = [], mean: Float = 0, std: Float = 1) throws -> Dataset {
        try require(classCount >= 2 && classCount <= 256, "class count must be in 2...256, got \(classCount)")
        try require(std > 0 && std.isFinite && mean.isFinite, "normalisation needs a finite mean and std > 0, got \(mean), \(std)")
        guard images.dimensions.count == 3 else {
            throw SmallNetError.io("\(imagesName): expected 3 dimensions (N, H, W), got \(images.dimensions)")
        }
        guard labels.dimensions.count == 1 else {
            throw SmallNetError.io("\(labelsName): expected 1 dimension (N), got \(labels.dimensions)")
        }
        let n = images.dimensions[0], h = images.dimensions[1], w = images.dimensions[2]
        guard labels.dimensions[0] == n else {
            throw SmallNetError.io("\(labelsName): \(labels.dimensions[0]) labels for \(n) images in \(imagesName)")
        }
        guard n > 0, h > 0, w > 0 else { throw SmallNetError.io("\(imagesName): empty image set \(images.dimensions)") }
        for (i, y) in labels.bytes.enumerated() where Int(y) >= classCount {
            throw SmallNetError.io("\(labelsName): label \(y) at index \(i) is outside 0..<\(classCount)")
        }
        return Dataset(sampleShape: [1, h, w], pixels: .bytes(images.bytes), labels: labels.bytes.map { Int32($0) },
                       classCount: classCount, classNames: classNames,
                       preprocessing: try Preprocessing(pixelScale: 1 / 255, mean: [mean], std: [std]))
    }

    /// Writes the samples `indices`, prepared, into `batch` (resized to (N, C, H, W)) and their
    /// labels into `labelsOut`, applying `augmentation` when given. Raw pixels are prepared with
    /// `preprocessing` (a model's) when given, else with the dataset's own; floats are used as given.
    /// The samples are prepared over `pool` (each by itself, so the batch is the same for any
    /// thread count); augmentation then draws from `generator` sample by sample, in order.
    /// Consecutive float samples without augmentation are not copied: `batch` becomes a view of
    /// the dataset's storage (read-only for the caller).
    func gather(_ indices: ArraySlice<Int>, into batch: Tensor, labels labelsOut: inout [Int32],
                preprocessing modelPreprocessing: Preprocessing? = nil,
                augmentation: Augmentation? = nil, generator: inout RandomGenerator, pool: ThreadPool? = nil) {
        let size = sampleSize, channels = sampleShape[0], plane = size / channels
        labelsOut.removeAll(keepingCapacity: true)
        for i in indices { labelsOut.append(labels[i]) }
        if case .floats(let floats) = pixels, augmentation == nil, let first = indices.first,
           indices.elementsEqual(first..<(first + indices.count)) {
            batch.view(of: floats, offset: first * size, shape: [indices.count] + sampleShape)
            return
        }
        batch.resize([indices.count] + sampleShape)
        let prepare = isRaw ? (modelPreprocessing ?? preprocessing) : .identity
        let coefficients = (0..<channels).map { prepare.coefficients(channel: $0) }
        let samples = Array(indices), out = batch.data
        let spread = samples.count * size >= valuesWorthThreads ? pool : nil
        switch pixels {
        case .bytes(let bytes):
            bytes.withUnsafeBufferPointer { source in
                let src = source.baseAddress!
                forEachRange(count: samples.count, pool: spread) { rows in
                    for row in rows {
                        for (c, (a, b)) in coefficients.enumerated() {
                            kernels.convertBytes(src + samples[row] * size + c * plane, out + row * size + c * plane,
                                                 count: plane, scale: a, shift: b)
                        }
                    }
                }
            }
        case .floats(let floats):
            forEachRange(count: samples.count, pool: spread) { rows in
                for row in rows { (out + row * size).update(from: floats.data + samples[row] * size, count: size) }
            }
        }
        if let augmentation {
            for row in samples.indices {
                augmentation.apply(out + row * size, shape: sampleShape, background: { coefficients[$0].b },
                                   generator: &generator)
            }
        }
    }
}
