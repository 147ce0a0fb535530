// Weight initialisation schemes.

/// How a layer's weights are initialised; biases start at zero unless stated.
public enum WeightInit: String, CaseIterable, Sendable {
    /// Kaiming (He) normal: w ~ N(0, 2 / fan_in), bias 0. For weights that feed a ReLU
    /// (He et al., 2015, "Delving Deep into Rectifiers").
    case kaimingNormal = "kaiming"
    /// PyTorch's default for Linear and Conv2d: w, b ~ U(−1/√fan_in, 1/√fan_in)
    /// (kaiming_uniform with a = √5).
    case pytorchDefault = "pytorch"

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
        }
    }
}
