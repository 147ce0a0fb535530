// Weight initialisation schemes.

/// How a layer's weights are initialised; biases start at zero unless stated.
///
/// Fans as in PyTorch's `_calculate_fan_in_and_fan_out`: for a weight (out, in, k…),
/// fan_in = in·∏k and fan_out = out·∏k.
public enum WeightInit: String, CaseIterable, Sendable {
    /// Kaiming (He) normal: w ~ N(0, 2 / fan_in), bias 0. For weights that feed a ReLU
    /// (He et al., 2015, "Delving Deep into Rectifiers").
    case kaimingNormal = "kaiming"
    /// PyTorch's default for Linear and Conv2d: w, b ~ U(−1/√fan_in, 1/√fan_in)
    /// (kaiming_uniform with a = √5).
    case pytorchDefault = "pytorch"
    /// Xavier (Glorot) uniform: w ~ U(±√(6 / (fan_in + fan_out))), bias 0 (Glorot & Bengio, 2010).
    case xavierUniform = "xavier_uniform"
    /// Xavier (Glorot) normal: w ~ N(0, 2 / (fan_in + fan_out)), bias 0.
    case xavierNormal = "xavier_normal"
    /// Orthogonal: the weight, as a (out, fan_in) matrix, has orthonormal rows (or columns,
    /// when it is tall), from the QR factorisation of a seeded normal matrix; bias 0
    /// (Saxe et al., 2014).
    case orthogonal = "orthogonal"
    /// Kaiming normal on the fan-out: w ~ N(0, 2 / fan_out), bias 0 (ReLU gain).
    case kaimingNormalFanOut = "kaiming_fan_out"
    /// Kaiming uniform: w ~ U(±√(6 / fan_in)), bias 0 (ReLU gain).
    case kaimingUniform = "kaiming_uniform"

    /// Fills `weight` (fan-in `fanIn`) and `bias` according to the scheme.
    func initialize(weight: Tensor, bias: Tensor?, fanIn: Int, generator: inout RandomGenerator) {
        switch self {
        case .kaimingNormal:
            let std = Float((2.0 / Double(fanIn)).squareRoot())
            for i in 0..<weight.count { weight.data[i] = std * generator.nextNormal() }
            bias?.fill(0)
        case .pytorchDefault:
            let bound = Float((1.0 / Double(fanIn)).squareRoot())
            for i in 0..<weight.count { weight.data[i] = bound * (2 * generator.nextUniform() - 1) }
            if let bias { for i in 0..<bias.count { bias.data[i] = bound * (2 * generator.nextUniform() - 1) } }
        case .xavierUniform:
            Initializers.xavierUniform(weight, generator: &generator)
            bias?.fill(0)
        case .xavierNormal:
            Initializers.xavierNormal(weight, generator: &generator)
            bias?.fill(0)
        case .orthogonal:
            Initializers.orthogonal(weight, generator: &generator)
            bias?.fill(0)
        case .kaimingNormalFanOut:
            Initializers.kaimingNormal(weight, mode: .fanOut, generator: &generator)
            bias?.fill(0)
        case .kaimingUniform:
            Initializers.kaimingUniform(weight, generator: &generator)
            bias?.fill(0)
        }
    }
}

/// A nonlinearity, for the gain of an initialisation (`torch.nn.init.calculate_gain`).
public enum Nonlinearity: Equatable, Sendable {
    case linear, sigmoid, tanh, relu, selu
    case leakyReLU(negativeSlope: Float)

    /// linear (and torch's conv*, conv_transpose*), sigmoid: 1; tanh: 5/3; relu: √2;
    /// leaky_relu: √(2 / (1 + a²)); selu: 3/4 (torch's choice for self-normalising networks).
    public var gain: Double {
        switch self {
        case .linear, .sigmoid: return 1
        case .tanh: return 5.0 / 3
        case .relu: return 2.0.squareRoot()
        case .selu: return 3.0 / 4
        case .leakyReLU(let a): return (2 / (1 + Double(a) * Double(a))).squareRoot()
        }
    }
}

/// PyTorch's `torch.nn.init` functions over a weight tensor (out, in, k…), filled in place
/// from `generator`.
public enum Initializers {
    /// Which fan Kaiming initialisation preserves: the forward pass's variance (fan_in) or
    /// the backward pass's (fan_out).
    public enum FanMode: String, Sendable { case fanIn = "fan_in", fanOut = "fan_out" }

    /// (fan_in, fan_out) of a weight (out, in, k…); a vector counts as (n, n).
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        guard shape.count >= 2 else { let n = shape.first ?? 1; return (n, n) }
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    private static func fan(_ shape: [Int], _ mode: FanMode) -> Double {
        let f = fans(shape)
        return Double(Swift.max(mode == .fanIn ? f.fanIn : f.fanOut, 1))
    }

    /// `kaiming_normal_`: N(0, std²), std = gain / √fan (default: fan_in, ReLU gain √2).
    public static func kaimingNormal(_ weight: Tensor, mode: FanMode = .fanIn, nonlinearity: Nonlinearity = .relu,
                                     generator: inout RandomGenerator) {
        normal(weight, std: nonlinearity.gain / fan(weight.shape, mode).squareRoot(), generator: &generator)
    }

    /// `kaiming_uniform_`: U(±bound), bound = gain·√(3 / fan).
    public static func kaimingUniform(_ weight: Tensor, mode: FanMode = .fanIn, nonlinearity: Nonlinearity = .relu,
                                      generator: inout RandomGenerator) {
        uniform(weight, bound: nonlinearity.gain * (3 / fan(weight.shape, mode)).squareRoot(), generator: &generator)
    }

    /// `xavier_uniform_`: U(±bound), bound = gain·√(6 / (fan_in + fan_out)).
    public static func xavierUniform(_ weight: Tensor, gain: Double = 1, generator: inout RandomGenerator) {
        let f = fans(weight.shape)
        uniform(weight, bound: gain * (6 / Double(Swift.max(f.fanIn + f.fanOut, 1))).squareRoot(), generator: &generator)
    }

    /// `xavier_normal_`: N(0, std²), std = gain·√(2 / (fan_in + fan_out)).
    public static func xavierNormal(_ weight: Tensor, gain: Double = 1, generator: inout RandomGenerator) {
        let f = fans(weight.shape)
        normal(weight, std: gain * (2 / Double(Swift.max(f.fanIn + f.fanOut, 1))).squareRoot(), generator: &generator)
    }

    /// `orthogonal_`: the weight as a matrix (rows = shape[0], cols = the rest) becomes
    /// gain·Q, Q from the QR factorisation (modified Gram–Schmidt, in Double) of a seeded
    /// N(0, 1) matrix with the signs of R's diagonal folded in, so that Q is uniformly
    /// distributed. Rows are orthonormal when rows ≤ cols, columns otherwise.
    public static func orthogonal(_ weight: Tensor, gain: Double = 1, generator: inout RandomGenerator) {
        let rows = weight.shape.first ?? 1
        let cols = rows == 0 ? 0 : weight.count / rows
        guard rows > 0, cols > 0 else { return }
        // Factor the tall one: A (m, n) with m ≥ n, whose n columns get orthonormalised.
        let m = Swift.max(rows, cols), n = Swift.min(rows, cols)
        var a = [Double](repeating: 0, count: m * n)  // column-major: column j at j·m
        for i in 0..<(m * n) { a[i] = Double(generator.nextNormal()) }
        for j in 0..<n {
            for k in 0..<j {
                var dot = 0.0
                for i in 0..<m { dot += a[k * m + i] * a[j * m + i] }
                for i in 0..<m { a[j * m + i] -= dot * a[k * m + i] }
            }
            var norm = 0.0
            for i in 0..<m { norm += a[j * m + i] * a[j * m + i] }
            norm = norm.squareRoot()
            // R's diagonal is the (positive) norm: Q's sign fold is then the identity.
            for i in 0..<m { a[j * m + i] = norm > 0 ? a[j * m + i] / norm : 0 }
        }
        // Q is (m, n); the weight is Q itself when tall (rows ≥ cols), else Qᵀ.
        for r in 0..<rows {
            for c in 0..<cols {
                let q = rows >= cols ? a[c * m + r] : a[r * m + c]
                weight.data[r * cols + c] = Float(gain * q)
            }
        }
    }

    private static func normal(_ weight: Tensor, std: Double, generator: inout RandomGenerator) {
        let s = Float(std)
        for i in 0..<weight.count { weight.data[i] = s * generator.nextNormal() }
    }

    private static func uniform(_ weight: Tensor, bound: Double, generator: inout RandomGenerator) {
        let b = Float(bound)
        for i in 0..<weight.count { weight.data[i] = b * (2 * generator.nextUniform() - 1) }
    }
}
