// Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay.
import SmallNetKernels

/// PyTorch's `torch.optim.Adam` (`decoupled` false) and `torch.optim.AdamW` (`decoupled` true).
/// For each parameter p with gradient g, at step t:
///
///     g ← −g                                   (maximize)
///     p ← p·(1 − lr·λ)                         (AdamW: decoupled weight decay λ)
///     g ← g + λ·p                              (Adam: L2 weight decay λ)
///     m ← β₁·m + (1 − β₁)·g
///     v ← β₂·v + (1 − β₂)·g²
///     v̂ ← max(v̂, v) and v ← v̂ below           (amsgrad)
///     p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// Defaults: lr 0.001, β₁ 0.9, β₂ 0.999, eps 1e-8, weight decay 0 (Adam) or 0.01 (AdamW),
/// amsgrad false, maximize false.
public final class Adam: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let eps: Float
    public let weightDecay: Float
    /// True for AdamW's decoupled weight decay.
    public let decoupled: Bool
    /// AMSGrad (Reddi et al., 2018): the denominator uses the largest v so far.
    public let amsgrad: Bool
    /// Ascends the objective instead of descending it.
    public let maximize: Bool
    /// Steps taken so far (t).
    public private(set) var stepCount = 0
    private var m: [Tensor] = []
    private var v: [Tensor] = []
    private var vMax: [Tensor] = []

    /// - Throws: `invalidArgument` naming the first invalid value.
    public init(parameters: [Parameter], learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float? = nil, decoupled: Bool = false, amsgrad: Bool = false,
                maximize: Bool = false) throws {
        let decay = weightDecay ?? (decoupled ? 0.01 : 0)
        try checkHyperParameter("learning rate", learningRate, min: 0)
        try checkHyperParameter("beta1", beta1, min: 0, max: 1, maxInclusive: false)
        try checkHyperParameter("beta2", beta2, min: 0, max: 1, maxInclusive: false)
        try checkHyperParameter("eps", eps, min: 0)
        try checkHyperParameter("weight decay", decay, min: 0)
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = decay
        self.decoupled = decoupled
        self.amsgrad = amsgrad
        self.maximize = maximize
    }

    /// AdamW: Adam with decoupled weight decay (default 0.01).
    public static func adamW(parameters: [Parameter], learningRate: Float = 0.001, beta1: Float = 0.9,
                             beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01,
                             amsgrad: Bool = false, maximize: Bool = false) throws -> Adam {
        try Adam(parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps,
                 weightDecay: weightDecay, decoupled: true, amsgrad: amsgrad, maximize: maximize)
    }

    public var name: String { decoupled ? "adamw" : "adam" }

    public func step(pool: ThreadPool?) {
        if m.isEmpty {
            m = zeroState(like: parameters); v = zeroState(like: parameters)
            if amsgrad { vMax = zeroState(like: parameters) }
        }
        stepCount += 1
        let t = Double(stepCount)
        let h = AdamStep(stepSize: Float(Double(learningRate) / (1 - _pow(Double(beta1), t))),
                         correction2Sqrt: Float((1 - _pow(Double(beta2), t)).squareRoot()),
                         decay: 1 - learningRate * weightDecay, weightDecay: weightDecay, beta1: beta1, beta2: beta2,
                         eps: eps, decoupled: decoupled, maximize: maximize)
        forEachShare(of: parameters, pool: pool) { index, range in
            let parameter = parameters[index], i = range.lowerBound
            kernels.adamUpdate(h, parameter.value.data + i, parameter.grad.data + i, m[index].data + i, v[index].data + i,
                               amsgrad ? vMax[index].data + i : nil, count: range.count)
        }
    }
}
