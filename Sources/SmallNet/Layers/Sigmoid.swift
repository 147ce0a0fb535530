// Sigmoid activation: y = 1 / (1 + e⁻ˣ).
import SmallNetKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies y = σ(x) = 1 / (1 + e⁻ˣ) element-wise; NaN propagates. Backward: dx = dy·y·(1 − y).
///
/// Shape: any (N, …); output has the input's shape. As `nn.Sigmoid()`.
public final class Sigmoid: Layer {
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)

    public init() {}

    public var kind: String { "sigmoid" }
    public var spec: JSON { .object([("kind", .string(kind))]) }
    public var summary: String { "Sigmoid" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        output.resize(input.shape)
        let x = input.data, y = output.data
        forEachChunk(count: input.count, pool: context.pool) { range in
            for i in range { y[i] = 1 / (1 + expf(-x[i])) }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        dInput.resize(dOut.shape)
        let y = output.data, dy = dOut.data, dx = dInput.data
        forEachChunk(count: dOut.count, pool: context.pool) { range in
            let i = range.lowerBound
            kernels.sigmoidBackward(y + i, dy + i, dx + i, count: range.count)
        }
        return dInput
    }
}
