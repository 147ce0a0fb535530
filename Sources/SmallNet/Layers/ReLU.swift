// ReLU activation: y = max(0, x).
import SmallNetKernels

/// Applies y = max(0, x) element-wise; NaN propagates (y = NaN). Backward: dx = dy · [y > 0].
///
/// Shape: any (N, …); output has the input's shape.
public final class ReLU: Layer {
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)

    public init() {}

    public var kind: String { "relu" }
    public var spec: JSON { .object([("kind", .string(kind))]) }
    public var summary: String { "ReLU" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        output.resize(input.shape)
        let x = input.data, y = output.data
        forEachChunk(count: input.count, pool: context.pool) { range in
            kernels.reluForward(x + range.lowerBound, y + range.lowerBound, count: range.count)
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        dInput.resize(dOut.shape)
        let y = output.data, dy = dOut.data, dx = dInput.data
        forEachChunk(count: dOut.count, pool: context.pool) { range in
            let i = range.lowerBound
            kernels.reluBackward(y + i, dy + i, dx + i, count: range.count)
        }
        return dInput
    }
}
