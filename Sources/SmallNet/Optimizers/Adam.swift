// Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay.

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
        let stepSize = Vec16(repeating: Float(Double(learningRate) / (1 - _pow(Double(beta1), t))))
        let correction2Sqrt = Vec16(repeating: Float((1 - _pow(Double(beta2), t)).squareRoot()))
        let decay = Vec16(repeating: 1 - learningRate * weightDecay), wd = Vec16(repeating: weightDecay)
        let oneMinusB1 = Vec16(repeating: 1 - beta1), b2 = Vec16(repeating: beta2)
        let oneMinusB2 = Vec16(repeating: 1 - beta2), e = Vec16(repeating: eps)
        forEachShare(of: parameters, pool: pool) { index, range in
            let parameter = parameters[index]
            let p = parameter.value.data, g = parameter.grad.data, mp = m[index].data, vp = v[index].data
            let vMaxp = amsgrad ? vMax[index].data : nil
            for i in stride(from: range.lowerBound, to: range.upperBound, by: 16) {
                var pi = load16(p + i)
                var d = load16(g + i)
                if maximize { d = -d }
                if decoupled { pi *= decay } else if weightDecay != 0 { d += wd * pi }
                var mi = load16(mp + i)
                mi += oneMinusB1 * (d - mi)
                var vi = b2 * load16(vp + i) + oneMinusB2 * d * d
                store16(mi, mp + i)
                store16(vi, vp + i)
                if let vMaxp {
                    vi = pointwiseMax(load16(vMaxp + i), vi)
                    store16(vi, vMaxp + i)
                }
                store16(pi - stepSize * mi / (vi.squareRoot() / correction2Sqrt + e), p + i)
            }
        }
    }
}
