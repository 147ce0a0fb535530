// LeakyReLU activation: y = x for x > 0, negative_slope · x otherwise.
import SmallNetKernels

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
            kernels.leakyReLUForward(x + range.lowerBound, y + range.lowerBound, count: range.count, slope: s)
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient, let input else { return nil }
        dInput.resize(dOut.shape)
        let x = input.data, dy = dOut.data, dx = dInput.data, s = negativeSlope
        forEachChunk(count: dOut.count, pool: context.pool) { range in
            let i = range.lowerBound
            kernels.leakyReLUBackward(x + i, dy + i, dx + i, count: range.count, slope: s)
        }
        return dInput
    }
}
