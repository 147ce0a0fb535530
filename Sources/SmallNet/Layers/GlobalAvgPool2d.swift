// Global average pooling: one mean per channel.
import SmallNetKernels

/// y[n, c] = mean over (h, w) of x[n, c, h, w]; backward: dx = dy / (H·W) everywhere.
/// PyTorch: `nn.AdaptiveAvgPool2d(1)` followed by `nn.Flatten()`.
///
/// Shape: input (N, C, H, W); output (N, C).
public final class GlobalAvgPool2d: Layer {
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var inputShape: [Int] = []

    public init() {}

    public var kind: String { "globalavgpool2d" }
    public var spec: JSON { .object([("kind", .string(kind))]) }
    public var summary: String { "GlobalAvgPool2d" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3 else {
            throw SmallNetError.shapeMismatch("\(summary) expects (C, H, W) inputs, got \(inputShape)")
        }
        return [inputShape[0]]
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input), c = input.shape[1], plane = input.shape[2] * input.shape[3]
        inputShape = input.shape
        output.resize([n, c])
        let scale = 1 / Float(plane)
        for i in 0..<(n * c) { output.data[i] = kernels.sum(input.data + i * plane, count: plane) * scale }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        dInput.resize(inputShape)
        let plane = inputShape[2] * inputShape[3], scale = 1 / Float(plane)
        for i in 0..<dOut.count { (dInput.data + i * plane).update(repeating: dOut.data[i] * scale, count: plane) }
        return dInput
    }
}
