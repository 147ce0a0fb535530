// Log-softmax over the features of each sample: y = x − log Σ eˣ.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies yᵢ = (xᵢ − m) − log Σⱼ e^(xⱼ − m) over each row, m = maxⱼ xⱼ (so no exponent
/// overflows); a NaN in a row makes that row NaN. Backward: dxᵢ = dyᵢ − e^(yᵢ)·Σⱼ dyⱼ.
///
/// Shape: input (N, F); output (N, F). As `nn.LogSoftmax(dim=1)`.
public final class LogSoftmax: Layer {
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)

    public init() {}

    public var kind: String { "logsoftmax" }
    public var spec: JSON { .object([("kind", .string(kind))]) }
    public var summary: String { "LogSoftmax(dim=1)" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 1 else {
            throw SmallNetError.shapeMismatch("LogSoftmax needs flat features (N, F), got per-sample shape \(inputShape) (add Flatten first)")
        }
        return inputShape
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        output.resize(input.shape)
        let n = batchSize(input), f = n == 0 ? 0 : input.count / n
        let x = input.data, y = output.data
        forEachRange(count: n, pool: input.count >= valuesWorthThreads ? context.pool : nil) { rows in
            for r in rows {
                let xr = x + r * f, yr = y + r * f
                let m = rowMax(xr, count: f)
                var s: Float = 0
                for j in 0..<f { s += expf(xr[j] - m) }
                let logSum = logf(s)
                for j in 0..<f { yr[j] = (xr[j] - m) - logSum }
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient else { return nil }
        dInput.resize(dOut.shape)
        let n = batchSize(dOut), f = n == 0 ? 0 : dOut.count / n
        let y = output.data, dy = dOut.data, dx = dInput.data
        forEachRange(count: n, pool: dOut.count >= valuesWorthThreads ? context.pool : nil) { rows in
            for r in rows {
                let yr = y + r * f, dyr = dy + r * f, dxr = dx + r * f
                var s: Float = 0
                for j in 0..<f { s += dyr[j] }
                for j in 0..<f { dxr[j] = dyr[j] - expf(yr[j]) * s }
            }
        }
        return dInput
    }
}
