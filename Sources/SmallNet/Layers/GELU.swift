// GELU activation: y = x·Φ(x), exactly (erf) or with PyTorch's tanh approximation.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies the Gaussian error linear unit element-wise; NaN propagates.
///
/// - `.none`: y = x·Φ(x) = ½x·(1 + erf(x/√2)); dx = dy·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π).
/// - `.tanh`: y = ½x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715x³);
///   dx = dy·(½(1 + tanh u) + ½x·(1 − tanh²u)·√(2/π)·(1 + 3·0.044715x²)).
///
/// Shape: any (N, …); output has the input's shape. As `nn.GELU(approximate="none" | "tanh")`;
/// Hendrycks & Gimpel 2016, "Gaussian Error Linear Units (GELUs)".
public final class GELU: Layer {
    /// How Φ is computed, named as PyTorch's `approximate` argument.
    public enum Approximation: String, Sendable {
        case none
        case tanh
    }

    public let approximate: Approximation
    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var input: Tensor?

    public init(approximate: Approximation = .none) {
        self.approximate = approximate
    }

    public var kind: String { "gelu" }
    public var spec: JSON { .object([("kind", .string(kind)), ("approximate", .string(approximate.rawValue))]) }
    public var summary: String { approximate == .none ? "GELU" : "GELU(approximate='tanh')" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    private static let beta: Float = 0.7978845608028654   // √(2/π)
    private static let kappa: Float = 0.044715
    private static let inverseSqrt2: Float = 0.7071067811865476
    private static let inverseSqrt2Pi: Float = 0.3989422804014327 // 1/√(2π)

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        self.input = input
        output.resize(input.shape)
        let x = input.data, y = output.data
        switch approximate {
        case .none:
            forEachChunk(count: input.count, pool: context.pool) { range in
                for i in range { y[i] = x[i] * 0.5 * (1 + erff(x[i] * Self.inverseSqrt2)) }
            }
        case .tanh:
            forEachChunk(count: input.count, pool: context.pool) { range in
                for i in range {
                    let v = x[i]
                    y[i] = 0.5 * v * (1 + tanhf(Self.beta * (v + Self.kappa * v * v * v)))
                }
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard needInputGradient, let input else { return nil }
        dInput.resize(dOut.shape)
        let x = input.data, dy = dOut.data, dx = dInput.data
        switch approximate {
        case .none:
            forEachChunk(count: dOut.count, pool: context.pool) { range in
                for i in range {
                    let v = x[i]
                    let cdf = 0.5 * (1 + erff(v * Self.inverseSqrt2))
                    let pdf = Self.inverseSqrt2Pi * expf(-0.5 * v * v)
                    dx[i] = dy[i] * (cdf + v * pdf)
                }
            }
        case .tanh:
            forEachChunk(count: dOut.count, pool: context.pool) { range in
                for i in range {
                    let v = x[i], v2 = v * v
                    let t = tanhf(Self.beta * (v + Self.kappa * v2 * v))
                    let inner = Self.beta * (1 + 3 * Self.kappa * v2)
                    dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * inner)
                }
            }
        }
        return dInput
    }
}
