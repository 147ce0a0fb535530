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
        try require(dropout >= 0 && dropout < 1, "dropout probability must be in [0, 1), got \(dropout)")
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
        // The last width moves the count in the smallest steps.
        try widthsForBudget(budget, shape: shape, family: "FCN", fineTune: [shape.count - 1]) { hidden in
            parameterCount(inputSize: inputSize, classes: classes, hidden: hidden, batchNorm: batchNorm)
        }
    }
}
