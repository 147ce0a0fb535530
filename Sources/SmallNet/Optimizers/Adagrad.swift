// Adagrad: per-coordinate rates shrinking with the sum of squared gradients.
import SmallNetKernels

/// PyTorch's `torch.optim.Adagrad`. For each parameter p with gradient g, at step t:
///
///     g ← −g                                   (maximize)
///     g ← g + λ·p                              (weight decay λ)
///     clr ← lr / (1 + (t − 1)·η)               (learning-rate decay η)
///     s ← s + g²                               (s starts at initial_accumulator_value)
///     p ← p − clr · g / (√s + ε)
///
/// Defaults: lr 0.01, lr decay 0, weight decay 0, initial accumulator value 0, eps 1e-10,
/// maximize false. (Duchi et al., 2011, "Adaptive Subgradient Methods".)
public final class Adagrad: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let learningRateDecay: Float
    public let weightDecay: Float
    public let initialAccumulatorValue: Float
    public let eps: Float
    /// Ascends the objective instead of descending it.
    public let maximize: Bool
    /// Steps taken so far (t).
    public private(set) var stepCount = 0
    private var sums: [Tensor] = []

    /// - Throws: `invalidArgument` naming the first invalid value.
    public init(parameters: [Parameter], learningRate: Float = 0.01, learningRateDecay: Float = 0,
                weightDecay: Float = 0, initialAccumulatorValue: Float = 0, eps: Float = 1e-10,
                maximize: Bool = false) throws {
        try checkHyperParameter("learning rate", learningRate, min: 0)
        try checkHyperParameter("lr decay", learningRateDecay, min: 0)
        try checkHyperParameter("weight decay", weightDecay, min: 0)
        try checkHyperParameter("initial accumulator value", initialAccumulatorValue, min: 0)
        try checkHyperParameter("eps", eps, min: 0)
        self.parameters = parameters
        self.learningRate = learningRate
        self.learningRateDecay = learningRateDecay
        self.weightDecay = weightDecay
        self.initialAccumulatorValue = initialAccumulatorValue
        self.eps = eps
        self.maximize = maximize
    }

    public var name: String { "adagrad" }

    public func step(pool: ThreadPool?) {
        if sums.isEmpty {
            sums = zeroState(like: parameters)
            if initialAccumulatorValue != 0 {
                for (sum, p) in zip(sums, parameters) {
                    for i in 0..<p.value.count { sum.data[i] = initialAccumulatorValue }
                }
            }
        }
        stepCount += 1
        // PyTorch computes clr in double precision and rounds it once into the update.
        let clr = Float(Double(learningRate) / (1 + Double(stepCount - 1) * Double(learningRateDecay)))
        let h = AdagradStep(rate: clr, weightDecay: weightDecay, eps: eps, maximize: maximize)
        forEachShare(of: parameters, pool: pool) { index, range in
            let parameter = parameters[index], i = range.lowerBound
            kernels.adagradUpdate(h, parameter.value.data + i, parameter.grad.data + i, sums[index].data + i, count: range.count)
        }
    }
}
