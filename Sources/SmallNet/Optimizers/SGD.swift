// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

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
        let lr = Vec16(repeating: learningRate), mu = Vec16(repeating: momentum)
        let wd = Vec16(repeating: weightDecay), keep = Vec16(repeating: 1 - dampening)
        forEachShare(of: parameters, pool: pool) { index, range in
            let parameter = parameters[index]
            let p = parameter.value.data, g = parameter.grad.data
            let b = momentum != 0 ? buffers[index].data : nil
            for i in stride(from: range.lowerBound, to: range.upperBound, by: 16) {
                let pi = load16(p + i)
                var d = load16(g + i)
                if maximize { d = -d }
                if weightDecay != 0 { d += wd * pi }
                if let b {
                    let bi = firstStep ? d : mu * load16(b + i) + keep * d
                    store16(bi, b + i)
                    d = nesterov ? d + mu * bi : bi
                }
                store16(pi - lr * d, p + i)
            }
        }
    }
}
