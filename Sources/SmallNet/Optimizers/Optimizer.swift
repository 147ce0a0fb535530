// The optimizer protocol: holds references to parameters, updates them from their gradients.

/// Updates parameters in place from their gradients with a PyTorch update rule.
///
/// State (momentum buffers, moments) is aligned with `parameters` and allocated on the first
/// `step`. Weight decay, where an optimizer has it, applies to every parameter, as PyTorch's
/// default parameter group does. Updates run 16 lanes at a time over the tensors' zero padding,
/// which stays zero (a zero gradient never moves a zero parameter).
public protocol Optimizer: AnyObject {
    /// The optimizer's name as the CLI and the C API spell it ("sgd", "adam", …).
    var name: String { get }
    /// The parameters being optimized.
    var parameters: [Parameter] { get }
    /// The current learning rate; schedules set it before each step.
    var learningRate: Float { get set }
    /// Applies one update using the current gradients, with `pool`'s threads (nil: the calling
    /// thread only). The update is element-wise, so the result does not depend on them.
    func step(pool: ThreadPool?)
}

extension Optimizer {
    /// One update on the calling thread alone.
    public func step() { step(pool: nil) }

    /// Sets every parameter gradient to zero.
    public func zeroGrad() { for p in parameters { p.grad.fill(0) } }
}

/// Checks that a hyper-parameter is finite and in a range, naming it in the error.
func checkHyperParameter(_ name: String, _ value: Float, min: Float, max: Float = .infinity,
                         minInclusive: Bool = true, maxInclusive: Bool = true) throws {
    let aboveMin = minInclusive ? value >= min : value > min
    let belowMax = maxInclusive ? value <= max : value < max
    guard value.isFinite, aboveMin, belowMax else {
        let lo = minInclusive ? "[" : "(", hi = maxInclusive ? "]" : ")"
        throw SmallNetError.invalidArgument("invalid \(name): \(value) (must be in \(lo)\(min), \(max)\(hi))")
    }
}

/// Zero-filled per-parameter state tensors, one per parameter.
func zeroState(like parameters: [Parameter]) -> [Tensor] {
    parameters.map { Tensor(uncheckedShape: $0.value.shape, count: $0.value.count) }
}

/// Calls `body(parameterIndex, range)` over every parameter's padded elements, split into one
/// contiguous share per thread of `pool` (ranges are whole 16-lane vectors). With a stable
/// split each core keeps its share of the optimizer state in its own cache between steps.
func forEachShare(of parameters: [Parameter], pool: ThreadPool?, _ body: (Int, Range<Int>) -> Void) {
    let sizes = parameters.map { $0.value.paddedCount }
    let total = sizes.reduce(0, +)
    let threads = total >= 1 << 15 ? (pool?.threadCount ?? 1) : 1
    func share(_ t: Int) {
        let lo = (total * t / threads) & ~15, hi = t == threads - 1 ? total : (total * (t + 1) / threads) & ~15
        var start = 0
        for (index, size) in sizes.enumerated() {
            let a = Swift.max(lo, start), b = Swift.min(hi, start + size)
            if a < b { body(index, (a - start)..<(b - start)) }
            start += size
        }
    }
    if let pool, threads > 1 { pool.run(parts: threads, share) } else { share(0) }
}
