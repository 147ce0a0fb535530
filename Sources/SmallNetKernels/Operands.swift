// The operands of the kernels that take more than a few numbers: GEMM and the optimizer updates.

/// The operands of C = A·B (or C += A·B when `accumulate`, or C = bias + A·B with `columnBias`):
/// A (M, K), B (K, N), C (M, N), all row-major with row strides `lda`, `ldb`, `ldc`; with
/// `bTransposed`, B is stored as Bᵀ (N, K), row-major with row stride `ldb`; `columnBias` (N)
/// is added to every row of C (as if C held it and `accumulate` were set).
@frozen public struct GemmOperands {
    public let m, n, k: Int
    public let a: UnsafePointer<Float>, lda: Int
    public let b: UnsafePointer<Float>, ldb: Int
    public let c: UnsafeMutablePointer<Float>, ldc: Int
    public let accumulate: Bool
    public let bTransposed: Bool
    /// B given as the panels `Kernels.packB` writes (`ldb` is then not used).
    public let bPacked: Bool
    public let columnBias: UnsafePointer<Float>?
    /// Applied to each element of C once its sum is complete, as its tile is stored (K ≥ 1).
    public let epilogue: GemmEpilogue?

    @inlinable public init(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, bTransposed: Bool = false,
                           bPacked: Bool = false, columnBias: UnsafePointer<Float>? = nil, epilogue: GemmEpilogue? = nil) {
        precondition(columnBias == nil || !accumulate, "a bias starts C, which accumulating keeps")
        precondition(epilogue == nil || k > 0, "an epilogue finishes the last K block")
        self.m = m; self.n = n; self.k = k
        self.a = a; self.lda = lda; self.b = b; self.ldb = ldb; self.c = c; self.ldc = ldc
        self.accumulate = accumulate
        self.bTransposed = bTransposed
        self.bPacked = bPacked
        self.columnBias = columnBias
        self.epilogue = epilogue
    }
}

/// A BatchNorm with fixed statistics, then optionally a ReLU, on each column j of a product's
/// result t: y = γ_j·((t − μ_j)·σ⁻¹_j) + β_j, then max(0, y) when `relu` (0 for y ≤ 0, NaN kept),
/// with the numbers of `featureNormalize` then `reluForward`. Each pointer holds N values.
@frozen public struct GemmEpilogue {
    public let gamma, beta, mean, inverseStd: UnsafePointer<Float>
    public let relu: Bool

    @inlinable public init(gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                           inverseStd: UnsafePointer<Float>, relu: Bool) {
        self.gamma = gamma; self.beta = beta; self.mean = mean; self.inverseStd = inverseStd; self.relu = relu
    }
}

/// One SGD step's hyper-parameters (the rule is on `SGD`).
@frozen public struct SGDStep {
    public let learningRate, momentum, dampening, weightDecay: Float
    public let nesterov, maximize: Bool
    /// The momentum buffer starts as the first gradient.
    public let firstStep: Bool

    @inlinable public init(learningRate: Float, momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool,
                           maximize: Bool, firstStep: Bool) {
        self.learningRate = learningRate; self.momentum = momentum; self.dampening = dampening
        self.weightDecay = weightDecay; self.nesterov = nesterov; self.maximize = maximize; self.firstStep = firstStep
    }
}

/// One Adam step's hyper-parameters (the rule is on `Adam`), with the step's bias corrections.
@frozen public struct AdamStep {
    /// lr / (1 − β₁ᵗ) and √(1 − β₂ᵗ).
    public let stepSize, correction2Sqrt: Float
    /// 1 − lr·λ, the factor of AdamW's decoupled weight decay.
    public let decay: Float
    public let weightDecay, beta1, beta2, eps: Float
    public let decoupled, maximize: Bool

    @inlinable public init(stepSize: Float, correction2Sqrt: Float, decay: Float, weightDecay: Float, beta1: Float,
                           beta2: Float, eps: Float, decoupled: Bool, maximize: Bool) {
        self.stepSize = stepSize; self.correction2Sqrt = correction2Sqrt; self.decay = decay
        self.weightDecay = weightDecay; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.decoupled = decoupled; self.maximize = maximize
    }
}

/// One RMSProp step's hyper-parameters (the rule is on `RMSProp`).
@frozen public struct RMSPropStep {
    public let learningRate, alpha, eps, weightDecay, momentum: Float
    public let maximize: Bool

    @inlinable public init(learningRate: Float, alpha: Float, eps: Float, weightDecay: Float, momentum: Float,
                           maximize: Bool) {
        self.learningRate = learningRate; self.alpha = alpha; self.eps = eps
        self.weightDecay = weightDecay; self.momentum = momentum; self.maximize = maximize
    }
}

/// One Adagrad step's hyper-parameters (the rule is on `Adagrad`).
@frozen public struct AdagradStep {
    /// The step's learning rate, lr / (1 + (t − 1)·η).
    public let rate: Float
    public let weightDecay, eps: Float
    public let maximize: Bool

    @inlinable public init(rate: Float, weightDecay: Float, eps: Float, maximize: Bool) {
        self.rate = rate; self.weightDecay = weightDecay; self.eps = eps; self.maximize = maximize
    }
}
