// Flatten: (N, C, H, W) → (N, C·H·W).

/// Collapses every dimension after the batch into one, as `nn.Flatten()` does.
///
/// Shape: input (N, d1, d2, …); output (N, d1·d2·…). The data is unchanged: the output is a view
/// of the input's elements (and the input gradient one of the output gradient's), no copy.
public final class Flatten: Layer {
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var inputShape: [Int] = []

    public init() {}

    public var kind: String { "flatten" }
    public var spec: JSON { .object([("kind", .string(kind))]) }
    public var summary: String { "Flatten" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { [inputShape.reduce(1, *)] }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input)
        inputShape = input.shape
        output.view(of: input, shape: [n, n == 0 ? 0 : input.count / n])
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        dInput.view(of: dOut, shape: inputShape)
        return dInput
    }
}
