// The optimizer kinds by name, as the command line, recipes and checkpoints spell them.

/// The optimizers smallnet offers.
public enum OptimizerKind: String, CaseIterable, Sendable {
    case sgd, rmsprop, adam, adamw, adagrad

    /// The momentum used when none is given: PyTorch's, except SGD's (0.9 here); nil for the
    /// Adam family, which has none.
    public var defaultMomentum: Float? {
        switch self {
        case .sgd: return 0.9
        case .rmsprop: return 0
        case .adam, .adamw, .adagrad: return nil
        }
    }

    /// The weight decay used when none is given (PyTorch's).
    public var defaultWeightDecay: Float { self == .adamw ? 0.01 : 0 }

    /// Builds the optimizer; unset values take the defaults above.
    /// - Parameter amsgrad: AMSGrad, for Adam and AdamW.
    /// - Throws: `invalidArgument` naming an invalid hyper-parameter, or amsgrad for another kind.
    public func make(parameters: [Parameter], learningRate: Float, momentum: Float? = nil,
                     weightDecay: Float? = nil, amsgrad: Bool = false) throws -> Optimizer {
        let decay = weightDecay ?? defaultWeightDecay, momentum = momentum ?? defaultMomentum ?? 0
        try require(!amsgrad || self == .adam || self == .adamw, "amsgrad is a setting of adam and adamw, not \(rawValue)")
        switch self {
        case .sgd:
            return try SGD(parameters: parameters, learningRate: learningRate, momentum: momentum, weightDecay: decay)
        case .rmsprop:
            return try RMSProp(parameters: parameters, learningRate: learningRate, weightDecay: decay, momentum: momentum)
        case .adam:
            return try Adam(parameters: parameters, learningRate: learningRate, weightDecay: decay, amsgrad: amsgrad)
        case .adamw:
            return try Adam.adamW(parameters: parameters, learningRate: learningRate, weightDecay: decay, amsgrad: amsgrad)
        case .adagrad:
            return try Adagrad(parameters: parameters, learningRate: learningRate, weightDecay: decay)
        }
    }
}
