// ReLU activation: y = max(0, x).

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
            var i = range.lowerBound
            let zero = Vec16()
            while i + 16 <= range.upperBound {
                let v = load16(x + i)
                store16(v.replacing(with: 0, where: v .<= zero), y + i)
                i += 16
            }
            while i < range.upperBound { y[i] = x[i] <= 0 ? 0 : x[i]; i += 1 }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        dInput.resize(dOut.shape)
        let y = output.data, dy = dOut.data, dx = dInput.data
        forEachChunk(count: dOut.count, pool: context.pool) { range in
            var i = range.lowerBound
            let zero = Vec16()
            while i + 16 <= range.upperBound {
                store16(load16(dy + i).replacing(with: 0, where: load16(y + i) .<= zero), dx + i)
                i += 16
            }
            while i < range.upperBound { dx[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
        }
        return dInput
    }
}
