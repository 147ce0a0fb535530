// Gradient clipping, between backward and the optimizer step.

/// PyTorch's `torch.nn.utils.clip_grad_norm_` with norm_type 2: the total norm
/// ‖g‖ = √(Σ over every parameter of Σ g²); when `maxNorm / (‖g‖ + 1e-6)` is below 1, every
/// gradient is multiplied by it.
/// - Returns: the total norm before clipping.
/// - Throws: `invalidArgument` for a negative or non-finite `maxNorm`.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float) throws -> Float {
    try checkHyperParameter("max norm", maxNorm, min: 0)
    var sum: Double = 0
    for parameter in parameters {
        let g = parameter.grad.data
        for i in 0..<parameter.grad.count { sum += Double(g[i]) * Double(g[i]) }
    }
    let total = Float(sum.squareRoot())
    let coefficient = maxNorm / (total + 1e-6)
    if coefficient < 1 {
        for parameter in parameters {
            let g = parameter.grad.data
            for i in 0..<parameter.grad.count { g[i] *= coefficient }
        }
    }
    return total
}

/// PyTorch's `torch.nn.utils.clip_grad_value_`: every gradient element is clamped to
/// [−clipValue, clipValue].
/// - Throws: `invalidArgument` for a negative or non-finite `clipValue`.
public func clipGradValue(_ parameters: [Parameter], clipValue: Float) throws {
    try checkHyperParameter("clip value", clipValue, min: 0)
    for parameter in parameters {
        let g = parameter.grad.data
        for i in 0..<parameter.grad.count { g[i] = Swift.min(Swift.max(g[i], -clipValue), clipValue) }
    }
}
