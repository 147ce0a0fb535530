// Channel dropout: zeroes whole feature maps.

/// Training: zeroes each channel of each sample with probability p (one draw per (n, c) from
/// the context's generator, in that order) and scales the kept channels by 1 / (1 − p), so eval
/// mode is the identity. Backward multiplies by the same per-channel factor.
///
/// Shape: input (N, C, H, W); output (N, C, H, W). As `nn.Dropout2d(p)`; Tompson et al. 2015,
/// "Efficient Object Localization Using Convolutional Networks".
public final class Dropout2d: Layer {
    public let p: Float
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    /// The factor of each (n, c) plane in the last training forward: 0 or 1 / (1 − p).
    private var mask: [Float] = []
    private var maskActive = false

    /// - Throws: `invalidArgument` unless 0 ≤ p < 1.
    public init(p: Float = 0.5) throws {
        try require(p >= 0 && p < 1, "dropout probability must be in [0, 1), got \(p)")
        self.p = p
    }

    public var kind: String { "dropout2d" }
    public var spec: JSON { .object([("kind", .string(kind)), ("p", .number(p))]) }
    public var summary: String { "Dropout2d(p=\(p))" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3 else {
            throw SmallNetError.shapeMismatch("Dropout2d needs (C, H, W) inputs, got per-sample shape \(inputShape)")
        }
        return inputShape
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        maskActive = context.training && p > 0
        guard maskActive else { return input }
        output.resize(input.shape)
        let planes = input.shape.count >= 2 ? input.shape[0] * input.shape[1] : 0
        let size = planes == 0 ? 0 : input.count / planes
        let scale = 1 / (1 - p)
        mask = (0..<planes).map { _ in context.generator.nextUniform() >= p ? scale : 0 }
        let x = input.data, y = output.data
        for (k, factor) in mask.enumerated() {
            let xk = x + k * size, yk = y + k * size
            for i in 0..<size { yk[i] = xk[i] * factor }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        guard maskActive else { return dOut }
        dInput.resize(dOut.shape)
        let size = mask.isEmpty ? 0 : dOut.count / mask.count
        let dy = dOut.data, dx = dInput.data
        for (k, factor) in mask.enumerated() {
            let dyk = dy + k * size, dxk = dx + k * size
            for i in 0..<size { dxk[i] = dyk[i] * factor }
        }
        return dInput
    }
}
