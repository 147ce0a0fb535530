// Optimizer updates over `count` floats of one parameter (a whole number of 16-lane vectors:
// tensors are zero-padded to that). The update rules are documented on SGD, Adam, RMSProp and
// Adagrad; `maximize` negates the gradient first.
import SmallNetKernels

extension Variant {
    /// SGD: g ← g + λp; b ← g (first step) or μb + (1 − τ)g; g ← g + μb (Nesterov) or b; p ← p − lr·g.
    /// `b` is nil without momentum.
    public static func sgdUpdate(_ h: SGDStep, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                 _ b: UnsafeMutablePointer<Float>?, count: Int) {
        let lr = Vec16(repeating: h.learningRate), mu = Vec16(repeating: h.momentum)
        let wd = Vec16(repeating: h.weightDecay), keep = Vec16(repeating: 1 - h.dampening)
        for i in stride(from: 0, to: count, by: 16) {
            let pi = load16(p + i)
            var d = load16(g + i)
            if h.maximize { d = -d }
            if h.weightDecay != 0 { d += wd * pi }
            if let b {
                let bi = h.firstStep ? d : mu * load16(b + i) + keep * d
                store16(bi, b + i)
                d = h.nesterov ? d + mu * bi : bi
            }
            store16(pi - lr * d, p + i)
        }
    }

    /// Adam / AdamW: p ← p(1 − lr·λ) (decoupled) or g ← g + λp; m ← m + (1 − β₁)(g − m);
    /// v ← β₂v + (1 − β₂)g²; v ← v̂ = max(v̂, v) with AMSGrad (`vMax` not nil);
    /// p ← p − stepSize·m / (√v / √(1 − β₂ᵗ) + ε).
    public static func adamUpdate(_ h: AdamStep, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                  _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                                  _ vMax: UnsafeMutablePointer<Float>?, count: Int) {
        let stepSize = Vec16(repeating: h.stepSize), correction2Sqrt = Vec16(repeating: h.correction2Sqrt)
        let decay = Vec16(repeating: h.decay), wd = Vec16(repeating: h.weightDecay)
        let oneMinusB1 = Vec16(repeating: 1 - h.beta1), b2 = Vec16(repeating: h.beta2)
        let oneMinusB2 = Vec16(repeating: 1 - h.beta2), e = Vec16(repeating: h.eps)
        for i in stride(from: 0, to: count, by: 16) {
            var pi = load16(p + i)
            var d = load16(g + i)
            if h.maximize { d = -d }
            if h.decoupled { pi *= decay } else if h.weightDecay != 0 { d += wd * pi }
            var mi = load16(m + i)
            mi += oneMinusB1 * (d - mi)
            var vi = b2 * load16(v + i) + oneMinusB2 * d * d
            store16(mi, m + i)
            store16(vi, v + i)
            if let vMax {
                vi = pointwiseMax(load16(vMax + i), vi)
                store16(vi, vMax + i)
            }
            store16(pi - stepSize * mi / (vi.squareRoot() / correction2Sqrt + e), p + i)
        }
    }

    /// RMSProp: g ← g + λp; s ← αs + (1 − α)g²; a ← √(s − ḡ²) + ε (centered, ḡ ← ḡ + (1 − α)(g − ḡ))
    /// or √s + ε; b ← μb + g/a, p ← p − lr·b (momentum), else p ← p − lr·g/a. `gAvg` is nil unless
    /// centered, `b` nil without momentum.
    public static func rmspropUpdate(_ h: RMSPropStep, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                     _ s: UnsafeMutablePointer<Float>, _ gAvg: UnsafeMutablePointer<Float>?,
                                     _ b: UnsafeMutablePointer<Float>?, count: Int) {
        let lr = Vec16(repeating: h.learningRate), a = Vec16(repeating: h.alpha), oneMinusA = Vec16(repeating: 1 - h.alpha)
        let wd = Vec16(repeating: h.weightDecay), mu = Vec16(repeating: h.momentum), e = Vec16(repeating: h.eps)
        for i in stride(from: 0, to: count, by: 16) {
            let pi = load16(p + i)
            var d = load16(g + i)
            if h.maximize { d = -d }
            if h.weightDecay != 0 { d += wd * pi }
            let si = a * load16(s + i) + oneMinusA * d * d
            store16(si, s + i)
            var avg: Vec16
            if let gAvg {
                var gi = load16(gAvg + i)
                gi += oneMinusA * (d - gi)
                store16(gi, gAvg + i)
                avg = (si - gi * gi).squareRoot()
            } else {
                avg = si.squareRoot()
            }
            avg += e
            if let b {
                let bi = mu * load16(b + i) + d / avg
                store16(bi, b + i)
                store16(pi - lr * bi, p + i)
            } else {
                store16(pi - lr * d / avg, p + i)
            }
        }
    }

    /// Adagrad: g ← g + λp; s ← s + g²; p ← p − rate·g / (√s + ε).
    public static func adagradUpdate(_ h: AdagradStep, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                                     _ s: UnsafeMutablePointer<Float>, count: Int) {
        let rate = Vec16(repeating: h.rate), wd = Vec16(repeating: h.weightDecay), e = Vec16(repeating: h.eps)
        for i in stride(from: 0, to: count, by: 16) {
            let pi = load16(p + i)
            var d = load16(g + i)
            if h.maximize { d = -d }
            if h.weightDecay != 0 { d += wd * pi }
            let si = load16(s + i) + d * d
            store16(si, s + i)
            store16(pi - rate * (d / (si.squareRoot() + e)), p + i)
        }
    }
}
