// LeakyReLU activation: y = x for x > 0, negative_slope · x otherwise.

/// Applies y = x if x > 0 else s·x element-wise (s = `negativeSlope`, PyTorch's default 0.01);
/// NaN propagates. Backward: dx = dy if x > 0 else s·dy, as PyTorch's `leaky_relu_backward`.
///
/// Shape: any (N, …); output has the input's shape. As `nn.LeakyReLU(negative_slope)`.
public final class LeakyReLU: Layer {
    public let negativeSlope: Float
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var input: Tensor?

    /// - Throws: `invalidArgument` for a slope that is not finite.
    public init(negativeSlope: Float = 0.01) throws {
        try require(negativeSlope.isFinite, "LeakyReLU negative_slope must be finite, got \(negativeSlope)")
        self.negativeSlope = negativeSlope
    }

    public var kind: String { "leakyrelu" }
    public var spec: JSON { .object([("kind", .string(kind)), ("negative_slope", .number(negativeSlope))]) }
    public var summary: String { "LeakyReLU(negative_slope=\(negativeSlope))" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        self.input = input
        output.resize(input.shape)
        let x = input.data, y = output.data, s = negativeSlope
        forEachChunk(count: input.count, pool: context.pool) { range in
            var i = range.lowerBound
            let zero = Vec16()
            while i + 16 <= range.upperBound {
                let v = load16(x + i)
                store16(v.replacing(with: v * s, where: .!(v .> zero)), y + i)
                i += 16
            }
            while i < range.upperBound { y[i] = x[i] > 0 ? x[i] : x[i] * s; i += 1 }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient, let input else { return nil }
        dInput.resize(dOut.shape)
        let x = input.data, dy = dOut.data, dx = dInput.data, s = negativeSlope
        forEachChunk(count: dOut.count, pool: context.pool) { range in
            var i = range.lowerBound
            let zero = Vec16()
            while i + 16 <= range.upperBound {
                let d = load16(dy + i)
                store16(d.replacing(with: d * s, where: .!(load16(x + i) .> zero)), dx + i)
                i += 16
            }
            while i < range.upperBound { dx[i] = x[i] > 0 ? dy[i] : dy[i] * s; i += 1 }
        }
        return dInput
    }
}
