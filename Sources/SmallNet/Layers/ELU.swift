// ELU activation: y = x for x > 0, α·(eˣ − 1) otherwise.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies y = x if x > 0 else α·(eˣ − 1) element-wise (α = `alpha`, default 1; computed with
/// `expm1` as PyTorch does); NaN propagates. Backward: dx = dy if x > 0 else dy·α·eˣ.
///
/// Shape: any (N, …); output has the input's shape. As `nn.ELU(alpha)`; Clevert et al. 2015,
/// "Fast and Accurate Deep Network Learning by Exponential Linear Units".
public final class ELU: Layer {
    public let alpha: Float
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var input: Tensor?

    /// - Throws: `invalidArgument` for an alpha that is not finite.
    public init(alpha: Float = 1) throws {
        try require(alpha.isFinite, "ELU alpha must be finite, got \(alpha)")
        self.alpha = alpha
    }

    public var kind: String { "elu" }
    public var spec: JSON { .object([("kind", .string(kind)), ("alpha", .number(alpha))]) }
    public var summary: String { "ELU(alpha=\(alpha))" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        self.input = input
        output.resize(input.shape)
        let x = input.data, y = output.data, a = alpha
        forEachChunk(count: input.count, pool: context.pool) { range in
            for i in range { y[i] = x[i] > 0 ? x[i] : a * expm1f(x[i]) }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient, let input else { return nil }
        dInput.resize(dOut.shape)
        let x = input.data, dy = dOut.data, dx = dInput.data, a = alpha
        forEachChunk(count: dOut.count, pool: context.pool) { range in
            for i in range { dx[i] = x[i] > 0 ? dy[i] : dy[i] * a * expf(x[i]) }
        }
        return dInput
    }
}
