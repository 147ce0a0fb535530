// SiLU (swish) activation: y = x·σ(x).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies y = x·σ(x) = x / (1 + e⁻ˣ) element-wise; NaN propagates.
/// Backward: dx = dy·σ(x)·(1 + x·(1 − σ(x))).
///
/// Shape: any (N, …); output has the input's shape. As `nn.SiLU()`; Elfwing et al. 2017,
/// "Sigmoid-Weighted Linear Units for Neural Network Function Approximation".
public final class SiLU: Layer {
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var input: Tensor?

    public init() {}

    public var kind: String { "silu" }
    public var spec: JSON { .object([("kind", .string(kind))]) }
    public var summary: String { "SiLU" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        self.input = input
        output.resize(input.shape)
        let x = input.data, y = output.data
        forEachChunk(count: input.count, pool: context.pool) { range in
            for i in range { y[i] = x[i] / (1 + expf(-x[i])) }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient, let input else { return nil }
        dInput.resize(dOut.shape)
        let x = input.data, dy = dOut.data, dx = dInput.data
        forEachChunk(count: dOut.count, pool: context.pool) { range in
            for i in range {
                let s = 1 / (1 + expf(-x[i]))
                dx[i] = dy[i] * s * (1 + x[i] * (1 - s))
            }
        }
        return dInput
    }
}
