// Inverted dropout.

/// Training: zeroes each element with probability p and scales the rest by 1 / (1 − p), so
/// eval mode is the identity. Backward multiplies by the same mask.
///
/// Shape: any (N, …); output has the input's shape.
public final class Dropout: Layer {
    public let p: Float
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let mask = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var maskActive = false

    /// - Throws: `invalidArgument` unless 0 ≤ p < 1.
    public init(p: Float) throws {
        try require(p >= 0 && p < 1, "dropout probability must be in [0, 1), got \(p)")
        self.p = p
    }

    public var kind: String { "dropout" }
    public var spec: JSON { .object([("kind", .string(kind)), ("p", .number(p))]) }
    public var summary: String { "Dropout(p=\(p))" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        maskActive = context.training && p > 0
        guard maskActive else { return input }
        output.resize(input.shape)
        mask.resize(input.shape)
        let scale = 1 / (1 - p)
        let x = input.data, y = output.data, m = mask.data
        // The pass's stream, drawn from a local copy: through the context, each draw would copy
        // the generator out of it and back.
        var generator = context.generator
        for i in 0..<input.count {
            let keep: Float = generator.nextUniform() >= p ? scale : 0
            m[i] = keep
            y[i] = x[i] * keep
        }
        context.generator = generator
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        guard maskActive else { return dOut }
        dInput.resize(dOut.shape)
        let dy = dOut.data, dx = dInput.data, m = mask.data
        for i in 0..<dOut.count { dx[i] = dy[i] * m[i] }
        return dInput
    }
}
