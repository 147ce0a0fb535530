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
        try require(!shape.isEmpty && shape.allSatisfy { $0 > 0 && $0.isFinite }, "CNN shape ratios must be positive, got \(shape)")
        try require(budget > 0, "parameter budget must be positive, got \(budget)")
        guard budget <= 100_000_000 else {
            throw SmallNetError.outOfMemory("parameter budget \(budget) is above smallnet's limit of 100,000,000")
        }
        try require(inputShape.count == 3 && inputShape.allSatisfy { $0 > 0 }, "a CNN takes (C, H, W) inputs, got \(inputShape)")
        func widths(_ base: Int) -> [Int] { shape.map { Swift.max(1, Int(($0 * Double(base)).rounded())) } }
        func count(_ c: [Int]) -> Int { parameterCount(inputShape: inputShape, classes: classes, channels: c, head: head) }
        let smallest = count(widths(1))
        try require(budget >= smallest, "parameter budget \(budget) is below the smallest CNN of this shape (\(smallest))")
        var lo = 1, hi = 1
        while count(widths(hi)) < budget { lo = hi; hi *= 2 }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if count(widths(mid)) < budget { lo = mid } else { hi = mid }
        }
        var best = abs(count(widths(lo)) - budget) <= abs(count(widths(hi)) - budget) ? widths(lo) : widths(hi)
        // Fine-tune the last width, then the first, which move the count in the smallest steps.
        for position in [best.count - 1, 0] {
            for candidate in Swift.max(1, best[position] - 32)...(best[position] + 32) {
                var trial = best
                trial[position] = candidate
                if abs(count(trial) - budget) < abs(count(best) - budget) { best = trial }
            }
        }
        return best
    }
}
