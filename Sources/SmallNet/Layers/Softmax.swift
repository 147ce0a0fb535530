// Softmax over the features of each sample: y = eˣ / Σ eˣ.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies yᵢ = e^(xᵢ − m) / Σⱼ e^(xⱼ − m) over each row, m = maxⱼ xⱼ (so no exponent overflows);
/// a NaN in a row makes that row NaN. Backward: dxᵢ = yᵢ·(dyᵢ − Σⱼ dyⱼ·yⱼ).
///
/// Shape: input (N, F); output (N, F). As `nn.Softmax(dim=1)`.
public final class Softmax: Layer {
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)

    public init() {}

    public var kind: String { "softmax" }
    public var spec: JSON { .object([("kind", .string(kind))]) }
    public var summary: String { "Softmax(dim=1)" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 1 else {
            throw SmallNetError.shapeMismatch("Softmax needs flat features (N, F), got per-sample shape \(inputShape) (add Flatten first)")
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
                for j in 0..<f { let e = expf(xr[j] - m); yr[j] = e; s += e }
                let scale = 1 / s
                for j in 0..<f { yr[j] *= scale }
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
                var dot: Float = 0
                for j in 0..<f { dot += dyr[j] * yr[j] }
                for j in 0..<f { dxr[j] = yr[j] * (dyr[j] - dot) }
            }
        }
        return dInput
    }
}

/// The largest of x[0..<count] (−∞ for none); NaNs are skipped here and reach the result
/// through the exponentials instead.
@inline(__always) func rowMax(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var m = -Float.infinity
    for j in 0..<count where x[j] > m { m = x[j] }
    return m
}
