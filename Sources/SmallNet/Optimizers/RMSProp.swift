// RMSProp: gradients divided by a running root-mean-square.
import SmallNetKernels

/// PyTorch's `torch.optim.RMSprop`. For each parameter p with gradient g:
///
///     g ← −g                                   (maximize)
///     g ← g + λ·p                              (weight decay λ)
///     s ← α·s + (1 − α)·g²
///     a ← √(s − ḡ²) + ε with ḡ ← α·ḡ + (1 − α)·g if centered, else √s + ε
///     b ← μ·b + g / a, p ← p − lr·b            (momentum μ > 0)
///     p ← p − lr·g / a                         (momentum 0)
///
/// Defaults: lr 0.01, alpha 0.99, eps 1e-8, weight decay 0, momentum 0, centered false, maximize false.
public final class RMSProp: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let alpha: Float
    public let eps: Float
    public let weightDecay: Float
    public let momentum: Float
    public let centered: Bool
    /// Ascends the objective instead of descending it.
    public let maximize: Bool
    private var squareAverages: [Tensor] = []
    private var gradientAverages: [Tensor] = []
    private var buffers: [Tensor] = []

    /// - Throws: `invalidArgument` naming the first invalid value.
    public init(parameters: [Parameter], learningRate: Float = 0.01, alpha: Float = 0.99, eps: Float = 1e-8,
                weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false, maximize: Bool = false) throws {
        try checkHyperParameter("learning rate", learningRate, min: 0)
        try checkHyperParameter("alpha", alpha, min: 0, max: 1)
        try checkHyperParameter("eps", eps, min: 0)
        try checkHyperParameter("weight decay", weightDecay, min: 0)
        try checkHyperParameter("momentum", momentum, min: 0)
        self.parameters = parameters
        self.learningRate = learningRate
        self.alpha = alpha
        self.eps = eps
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
        self.maximize = maximize
    }

    public var name: String { "rmsprop" }

    public func step(pool: ThreadPool?) {
        if squareAverages.isEmpty {
            squareAverages = zeroState(like: parameters)
            if centered { gradientAverages = zeroState(like: parameters) }
            if momentum > 0 { buffers = zeroState(like: parameters) }
        }
        let h = RMSPropStep(learningRate: learningRate, alpha: alpha, eps: eps, weightDecay: weightDecay, momentum: momentum,
                            maximize: maximize)
        forEachShare(of: parameters, pool: pool) { index, range in
            let parameter = parameters[index], i = range.lowerBound
            let gAvg = centered ? gradientAverages[index].data + i : nil
            let b = momentum > 0 ? buffers[index].data + i : nil
            kernels.rmspropUpdate(h, parameter.value.data + i, parameter.grad.data + i, squareAverages[index].data + i, gAvg, b,
                                  count: range.count)
        }
    }
}
