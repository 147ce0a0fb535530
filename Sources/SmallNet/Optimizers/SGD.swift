// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.
import SmallNetKernels

/// PyTorch's `torch.optim.SGD`. For each parameter p with gradient g:
///
///     g ← −g                                   (maximize)
///     g ← g + λ·p                              (weight decay λ)
///     b ← g on the first step, else μ·b + (1 − τ)·g   (momentum μ, dampening τ; μ > 0)
///     g ← g + μ·b if nesterov, else b
///     p ← p − lr·g
///
/// Defaults: lr 0.001, momentum 0, dampening 0, weight decay 0, nesterov false, maximize false.
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let momentum: Float
    public let dampening: Float
    public let weightDecay: Float
    public let nesterov: Bool
    /// Ascends the objective instead of descending it.
    public let maximize: Bool
    private var buffers: [Tensor] = []

    /// - Throws: `invalidArgument` naming the first invalid value.
    public init(parameters: [Parameter], learningRate: Float = 0.001, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false, maximize: Bool = false) throws {
        try checkHyperParameter("learning rate", learningRate, min: 0)
        try checkHyperParameter("momentum", momentum, min: 0)
        try checkHyperParameter("dampening", dampening, min: 0, max: 1)
        try checkHyperParameter("weight decay", weightDecay, min: 0)
        try require(!nesterov || (momentum > 0 && dampening == 0),
                    "invalid nesterov: it requires momentum > 0 and dampening = 0")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.maximize = maximize
    }

    public var name: String { "sgd" }

    public func step(pool: ThreadPool?) {
        let firstStep = buffers.isEmpty
        if firstStep && momentum != 0 { buffers = zeroState(like: parameters) }
        let h = SGDStep(learningRate: learningRate, momentum: momentum, dampening: dampening, weightDecay: weightDecay,
                        nesterov: nesterov, maximize: maximize, firstStep: firstStep)
        forEachShare(of: parameters, pool: pool) { index, range in
            let parameter = parameters[index], i = range.lowerBound
            let b = momentum != 0 ? buffers[index].data + i : nil
            kernels.sgdUpdate(h, parameter.value.data + i, parameter.grad.data + i, b, count: range.count)
        }
    }
}
