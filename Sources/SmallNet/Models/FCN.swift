// Fully-connected classifiers: built from hidden widths, or sized to a parameter budget.

/// Builders for fully-connected networks (multi-layer perceptrons).
public enum FCN {
    /// Flatten → [Linear → (BatchNorm1d) → ReLU → (Dropout)] per hidden width → Linear.
    ///
    /// - Parameters:
    ///   - inputShape: per-sample input shape, e.g. [1, 28, 28].
    ///   - hidden: hidden-layer widths, first to last (may be empty: a linear classifier).
    ///   - dropout: dropout probability after each hidden ReLU (0 for none).
    /// - Throws: `invalidArgument` for non-positive sizes or a bad dropout probability.
    public static func build(inputShape: [Int] = [1, 28, 28], classes: Int = 10, hidden: [Int],
                             dropout: Float = 0, batchNorm: Bool = false,
                             initialization: WeightInit = .kaimingNormal,
                             generator: inout RandomGenerator) throws -> Sequential {
        try require(classes >= 2, "a classifier needs at least 2 classes, got \(classes)")
        try require(hidden.allSatisfy { $0 > 0 }, "hidden widths must be positive, got \(hidden)")
        let model = try Sequential(inputShape: inputShape)
        try model.append(Flatten())
        var width = inputShape.reduce(1, *)
        for h in hidden {
            try model.append(Linear(width, h, initialization: initialization, generator: &generator))
            if batchNorm { try model.append(BatchNorm1d(h)) }
            try model.append(ReLU())
            if dropout > 0 { try model.append(Dropout(p: dropout)) }
            width = h
        }
        try model.append(Linear(width, classes, initialization: initialization, generator: &generator))
        return model
    }

    /// Trainable parameters of `build(…, hidden:, batchNorm:)`, without building it.
    public static func parameterCount(inputSize: Int, classes: Int, hidden: [Int], batchNorm: Bool) -> Int {
        var total = 0, width = inputSize
        for h in hidden {
            total += width * h + h + (batchNorm ? 2 * h : 0)
            width = h
        }
        return total + width * classes + classes
    }

    /// Hidden widths whose parameter count is as close as possible to `budget`.
    ///
    /// The widths keep the proportions of `shape` (e.g. [1, 0.5]: the second hidden layer half
    /// as wide as the first); the first width is searched, then the last one is adjusted to
    /// land closer. The result is within ±2 % of any budget a one-unit change can reach.
    /// - Throws: `invalidArgument` when the budget is too small for even one hidden unit per
    ///   layer, or the shape is empty or non-positive.
    public static func hiddenWidths(budget: Int, inputSize: Int = 784, classes: Int = 10,
                                    shape: [Double] = [1, 0.5], batchNorm: Bool = false) throws -> [Int] {
        try require(!shape.isEmpty && shape.allSatisfy { $0 > 0 && $0.isFinite }, "FCN shape ratios must be positive, got \(shape)")
        try require(budget > 0, "parameter budget must be positive, got \(budget)")
        guard budget <= 100_000_000 else {
            throw SmallNetError.outOfMemory("parameter budget \(budget) is above smallnet's limit of 100,000,000")
        }
        func widths(_ first: Int) -> [Int] { shape.map { Swift.max(1, Int(($0 * Double(first)).rounded())) } }
        func count(_ hidden: [Int]) -> Int {
            parameterCount(inputSize: inputSize, classes: classes, hidden: hidden, batchNorm: batchNorm)
        }
        let smallest = count(widths(1))
        try require(budget >= smallest, "parameter budget \(budget) is below the smallest FCN of this shape (\(smallest))")
        var lo = 1, hi = 1
        while count(widths(hi)) < budget { lo = hi; hi *= 2 }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if count(widths(mid)) < budget { lo = mid } else { hi = mid }
        }
        var best = abs(count(widths(lo)) - budget) <= abs(count(widths(hi)) - budget) ? widths(lo) : widths(hi)
        // Fine-tune the last width, which moves the count in the smallest steps.
        let last = best.count - 1
        for candidate in Swift.max(1, best[last] - 64)...(best[last] + 64) {
            var trial = best
            trial[last] = candidate
            if abs(count(trial) - budget) < abs(count(best) - budget) { best = trial }
        }
        return best
    }
}
