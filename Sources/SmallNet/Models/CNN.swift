// Convolutional classifiers: built from channel widths, or sized to a parameter budget.

/// Builders for small CNNs of conv 3×3 blocks.
public enum CNN {
    /// What follows the convolutional blocks.
    public enum Head: String, CaseIterable, Sendable {
        /// Flatten, then Linear(C·H·W → classes).
        case linear
        /// Global average pooling, then Linear(C → classes).
        case globalAverage = "gap"
    }

    /// [Conv2d 3×3 (pad 1, no bias) → BatchNorm2d → ReLU → MaxPool2d(2) when `pool[i]`] per
    /// entry of `channels`, then the head (with dropout before its Linear when > 0).
    ///
    /// - Parameters:
    ///   - channels: output channels of each block.
    ///   - pool: whether each block ends with 2×2 max pooling (default: every block).
    /// - Throws: `invalidArgument` for non-positive widths or mismatched lists; `shapeMismatch`
    ///   when the input is too small for the pooling.
    public static func build(inputShape: [Int] = [1, 28, 28], classes: Int = 10, channels: [Int], pool: [Bool]? = nil,
                             head: Head = .linear, dropout: Float = 0, initialization: WeightInit = .kaimingNormal,
                             generator: inout RandomGenerator) throws -> Sequential {
        try require(classes >= 2, "a classifier needs at least 2 classes, got \(classes)")
        try require(!channels.isEmpty && channels.allSatisfy { $0 > 0 }, "CNN channel widths must be positive, got \(channels)")
        try require(dropout >= 0 && dropout < 1, "dropout probability must be in [0, 1), got \(dropout)")
        let pools = pool ?? [Bool](repeating: true, count: channels.count)
        try require(pools.count == channels.count, "\(pools.count) pooling flags for \(channels.count) blocks")
        try require(inputShape.count == 3, "a CNN takes (C, H, W) inputs, got \(inputShape)")
        let model = try Sequential(inputShape: inputShape)
        var width = inputShape[0]
        for (c, pooled) in zip(channels, pools) {
            try model.append(Conv2d(width, c, kernelSize: 3, padding: 1, bias: false, initialization: initialization,
                                    generator: &generator))
            try model.append(BatchNorm2d(c))
            try model.append(ReLU())
            if pooled { try model.append(MaxPool2d(kernelSize: 2)) }
            width = c
        }
        switch head {
        case .linear: try model.append(Flatten())
        case .globalAverage: try model.append(GlobalAvgPool2d())
        }
        if dropout > 0 { try model.append(Dropout(p: dropout)) }
        try model.append(Linear(model.outputShape.reduce(1, *), classes, initialization: initialization, generator: &generator))
        return model
    }

    /// Trainable parameters of `build(…)` without building it.
    public static func parameterCount(inputShape: [Int] = [1, 28, 28], classes: Int = 10, channels: [Int],
                                      pool: [Bool]? = nil, head: Head = .linear) -> Int {
        let pools = pool ?? [Bool](repeating: true, count: channels.count)
        var total = 0, width = inputShape[0], h = inputShape[1], w = inputShape[2]
        for (c, pooled) in zip(channels, pools) {
            total += 9 * width * c + 2 * c
            if pooled { h /= 2; w /= 2 }
            width = c
        }
        let features = head == .linear ? width * h * w : width
        return total + features * classes + classes
    }

    /// Channel widths in the proportions of `shape` whose parameter count is as close as
    /// possible to `budget` (within ±2 % for budgets from 5,000 up).
    /// - Throws: `invalidArgument` for a budget below the smallest such CNN, or above 100M.
    public static func channelWidths(budget: Int, inputShape: [Int] = [1, 28, 28], classes: Int = 10,
                                     shape: [Double] = [1, 2, 4], head: Head = .linear) throws -> [Int] {
        try require(inputShape.count == 3 && inputShape.allSatisfy { $0 > 0 }, "a CNN takes (C, H, W) inputs, got \(inputShape)")
        // The last width, then the first, move the count in the smallest steps.
        return try widthsForBudget(budget, shape: shape, family: "CNN", fineTune: [shape.count - 1, 0]) { channels in
            parameterCount(inputShape: inputShape, classes: classes, channels: channels, head: head)
        }
    }
}
