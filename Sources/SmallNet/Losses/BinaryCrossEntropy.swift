// Binary cross-entropy on logits, stable for any x: one element's value and derivative.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ℓ = −w·[p·t·log σ(x) + (1 − t)·log(1 − σ(x))], as PyTorch's `binary_cross_entropy_with_logits`
/// computes it: with l = 1 + (p − 1)·t,
///
///     ℓ = w·[(1 − t)·x + l·(log1p(e^(−|x|)) + max(−x, 0))],   dℓ/dx = w·(l·σ(x) − p·t).
///
/// - Parameters: x the logit, t the target (usually in [0, 1]), p the positive weight, w the weight.
@inline(__always)
func binaryCrossEntropyWithLogits(_ x: Float, _ t: Float, posWeight p: Float, weight w: Float) -> (Float, Float) {
    let l = 1 + (p - 1) * t
    let value = (1 - t) * x + l * (log1pf(expf(-abs(x))) + max(-x, 0))
    let sigma = x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x))
    return (w * value, w * (l * sigma - p * t))
}
