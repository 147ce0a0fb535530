// Sizing a model family to a parameter budget: one search shared by the FCN and CNN builders.

/// Widths in the proportions of `shape` whose parameter count (`count`) is closest to `budget`.
///
/// A binary search on the base width (counts grow with it), then the widths at `fineTune`
/// positions are nudged one at a time, since each moves the count in smaller steps.
/// - Throws: `invalidArgument` for bad ratios, a non-positive budget, or one below the smallest
///   model of the shape (`family` names it); `outOfMemory` above 100M parameters.
func widthsForBudget(_ budget: Int, shape: [Double], family: String, fineTune: [Int],
                     count: ([Int]) -> Int) throws -> [Int] {
    try require(!shape.isEmpty && shape.allSatisfy { $0 > 0 && $0.isFinite }, "\(family) shape ratios must be positive, got \(shape)")
    try require(budget > 0, "parameter budget must be positive, got \(budget)")
    guard budget <= 100_000_000 else {
        throw SmallNetError.outOfMemory("parameter budget \(budget) is above smallnet's limit of 100,000,000")
    }
    func widths(_ base: Int) -> [Int] { shape.map { Swift.max(1, Int(($0 * Double(base)).rounded())) } }
    let smallest = count(widths(1))
    try require(budget >= smallest, "parameter budget \(budget) is below the smallest \(family) of this shape (\(smallest))")
    var lo = 1, hi = 1
    while count(widths(hi)) < budget { lo = hi; hi *= 2 }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2
        if count(widths(mid)) < budget { lo = mid } else { hi = mid }
    }
    var best = abs(count(widths(lo)) - budget) <= abs(count(widths(hi)) - budget) ? widths(lo) : widths(hi)
    for position in fineTune where position < best.count {
        for candidate in Swift.max(1, best[position] - 64)...(best[position] + 64) {
            var trial = best
            trial[position] = candidate
            if abs(count(trial) - budget) < abs(count(best) - budget) { best = trial }
        }
    }
    return best
}
