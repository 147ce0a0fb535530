// The optimizer protocol: holds references to parameters, updates them from their gradients.

/// Updates parameters in place from their gradients with a PyTorch update rule.
///
/// State (momentum buffers, moments) is aligned with `parameters` and allocated on the first
/// `step`. Weight decay, where an optimizer has it, applies to every parameter, as PyTorch's
/// default parameter group does.
public protocol Optimizer: AnyObject {
    /// The optimizer's name as the CLI and the C API spell it ("sgd", "adam", …).
    var name: String { get }
    /// The parameters being optimized.
    var parameters: [Parameter] { get }
    /// The current learning rate; schedules set it before each step.
    var learningRate: Float { get set }
    /// Applies one update using the current gradients.
    func step()
}

extension Optimizer {
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
