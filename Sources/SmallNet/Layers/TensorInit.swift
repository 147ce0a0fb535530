// torch.nn.init over one whole tensor: the schemes with their arguments, checked as torch checks them.

/// One of `torch.nn.init`'s functions with its arguments, refilling a whole tensor.
///
/// Fans as torch's `_calculate_fan_in_and_fan_out`: for a tensor (d0, d1, k…),
/// fan_in = d1·∏k and fan_out = d0·∏k. Kaiming, Xavier and orthogonal need at least 2
/// dimensions (torch raises for fewer). Random numbers come from the generator passed in, so the
/// values differ from PyTorch's while the distributions are the same.
public enum TensorInit: Equatable, Sendable {
    /// `kaiming_normal_`: N(0, std²), std = gain / √fan (He et al., 2015). torch's default is
    /// fan_in with leaky_relu of slope 0, gain √2.
    case kaimingNormal(mode: Initializers.FanMode = .fanIn, nonlinearity: Nonlinearity = .leakyReLU(negativeSlope: 0))
    /// `kaiming_uniform_`: U(±bound), bound = gain·√(3 / fan).
    case kaimingUniform(mode: Initializers.FanMode = .fanIn, nonlinearity: Nonlinearity = .leakyReLU(negativeSlope: 0))
    /// `xavier_normal_`: N(0, std²), std = gain·√(2 / (fan_in + fan_out)) (Glorot & Bengio, 2010); gain ≥ 0.
    case xavierNormal(gain: Double = 1)
    /// `xavier_uniform_`: U(±bound), bound = gain·√(6 / (fan_in + fan_out)); gain ≥ 0.
    case xavierUniform(gain: Double = 1)
    /// `orthogonal_`: gain·Q, Q with orthonormal rows of the (d0, rest) matrix, or columns when it
    /// is tall (Saxe et al., 2014).
    case orthogonal(gain: Double = 1)
    /// `uniform_`: U(low, high), low ≤ high.
    case uniform(low: Double = 0, high: Double = 1)
    /// `normal_`: N(mean, std²), std ≥ 0.
    case normal(mean: Double = 0, std: Double = 1)
    /// `constant_` (`zeros_`, `ones_`): every element `value`.
    case constant(Double)

    /// The torch.nn.init function's name, for messages.
    public var torchName: String {
        switch self {
        case .kaimingNormal: return "kaiming_normal_"
        case .kaimingUniform: return "kaiming_uniform_"
        case .xavierNormal: return "xavier_normal_"
        case .xavierUniform: return "xavier_uniform_"
        case .orthogonal: return "orthogonal_"
        case .uniform: return "uniform_"
        case .normal: return "normal_"
        case .constant: return "constant_"
        }
    }

    /// New values for a tensor of `shape`, drawn from `generator`.
    ///
    /// Shape: `shape`, any rank (at least 2 for Kaiming, Xavier and orthogonal).
    /// - Throws: `invalidArgument` for a non-finite argument, a negative std or Xavier gain,
    ///   low > high, a scheme that needs fans on fewer than 2 dimensions, or values that
    ///   overflow a Float.
    public func values(for shape: [Int], generator: inout RandomGenerator) throws -> Tensor {
        try check(shape)
        let t = try Tensor(shape: shape)
        switch self {
        case let .kaimingNormal(mode, nonlinearity):
            Initializers.kaimingNormal(t, mode: mode, nonlinearity: nonlinearity, generator: &generator)
        case let .kaimingUniform(mode, nonlinearity):
            Initializers.kaimingUniform(t, mode: mode, nonlinearity: nonlinearity, generator: &generator)
        case let .xavierNormal(gain):
            Initializers.xavierNormal(t, gain: gain, generator: &generator)
        case let .xavierUniform(gain):
            Initializers.xavierUniform(t, gain: gain, generator: &generator)
        case let .orthogonal(gain):
            Initializers.orthogonal(t, gain: gain, generator: &generator)
        case let .uniform(low, high):
            for i in 0..<t.count { t.data[i] = Float(low + (high - low) * Double(generator.nextUniform())) }
        case let .normal(mean, std):
            for i in 0..<t.count { t.data[i] = Float(mean + std * Double(generator.nextNormal())) }
        case let .constant(value):
            t.fill(Float(value))
        }
        for i in 0..<t.count where !t.data[i].isFinite {
            throw SmallNetError.invalidArgument("\(torchName) with \(self) gives values beyond a Float's range (\(t.data[i]))")
        }
        return t
    }

    /// Refills `tensor` in place from `generator`; the tensor is unchanged when it throws.
    /// - Throws: as `values(for:generator:)`.
    public func apply(to tensor: Tensor, generator: inout RandomGenerator) throws {
        let fresh = try values(for: tensor.shape, generator: &generator)
        tensor.data.update(from: fresh.data, count: tensor.count)
    }

    private func check(_ shape: [Int]) throws {
        func finite(_ value: Double, _ name: String) throws {
            try require(value.isFinite, "\(torchName): \(name) must be finite, got \(value)")
        }
        func fans() throws {
            try require(shape.count >= 2, "\(torchName): fan in and fan out can not be computed for a tensor "
                        + "of fewer than 2 dimensions (shape \(shape))")
        }
        switch self {
        case let .kaimingNormal(_, nonlinearity), let .kaimingUniform(_, nonlinearity):
            try fans()
            if case let .leakyReLU(a) = nonlinearity { try finite(Double(a), "a (the negative slope)") }
        case let .xavierNormal(gain), let .xavierUniform(gain):
            try fans()
            try finite(gain, "gain")
            try require(gain >= 0, "\(torchName): gain must be ≥ 0, got \(gain)")
        case let .orthogonal(gain):
            try require(shape.count >= 2, "\(torchName): only tensors of 2 or more dimensions are supported (shape \(shape))")
            try finite(gain, "gain")
        case let .uniform(low, high):
            try finite(low, "low"); try finite(high, "high")
            try require(low <= high, "\(torchName): low must be ≤ high, got low \(low), high \(high)")
        case let .normal(mean, std):
            try finite(mean, "mean"); try finite(std, "std")
            try require(std >= 0, "\(torchName): std must be ≥ 0, got \(std)")
        case let .constant(value):
            try finite(value, "value")
        }
    }
}
