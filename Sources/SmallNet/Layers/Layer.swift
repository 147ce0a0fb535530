// The Layer protocol, named parameters, and the context a forward pass runs in.

/// A trainable tensor with its gradient, under a PyTorch-style name ("weight", "bias").
public final class Parameter {
    /// Local name inside its layer; `Sequential` prefixes the layer index ("0.weight").
    public let name: String
    public let value: Tensor
    /// Gradient of the loss with respect to `value`; backward passes accumulate into it.
    public let grad: Tensor

    init(name: String, shape: [Int]) {
        self.name = name
        var n = 1
        for d in shape { n *= d }
        value = Tensor(uncheckedShape: shape, count: n)
        grad = Tensor(uncheckedShape: shape, count: n)
    }
}

/// The random state of a model's stochastic layers (dropout), owned by the model: every
/// forward pass of the model draws from it, and `Trainer.fit` reseeds it from its seed.
public final class RandomSource {
    public var generator: RandomGenerator
    public init(seed: UInt64) { generator = RandomGenerator(seed: seed) }
}

/// What one forward or backward pass runs with: the model's mode (training or eval), the
/// model's random source, and the threads of whoever drives the engine. Made for each pass
/// from state owned elsewhere; it owns none of it.
public final class ExecutionContext {
    public let training: Bool
    public let pool: ThreadPool?
    private let random: RandomSource

    /// The random generator of the pass (the model's).
    public var generator: RandomGenerator {
        get { random.generator }
        set { random.generator = newValue }
    }

    public init(training: Bool, random: RandomSource, pool: ThreadPool? = nil) {
        self.training = training
        self.random = random
        self.pool = pool
    }

    /// A context with a random source of its own (for running layers alone, as tests do).
    public convenience init(training: Bool, generator: RandomGenerator = RandomGenerator(seed: 0), pool: ThreadPool? = nil) {
        let random = RandomSource(seed: 0)
        random.generator = generator
        self.init(training: training, random: random, pool: pool)
    }
}

/// A layer pairs `forward` and `backward`, and lists its parameters.
///
/// Shapes here are per sample (without the batch dimension). `forward` returns a buffer the
/// layer owns and reuses: it is valid until the layer's next `forward`. `backward` must follow
/// the `forward` of the same batch; it accumulates into the parameters' gradients and returns
/// the gradient with respect to the input (nil when `needInputGradient` is false).
public protocol Layer: AnyObject {
    /// The kind, as the C API and checkpoints name it: "linear", "relu", ….
    var kind: String { get }
    /// A one-line description with the layer's settings, e.g. "Linear(784 → 128)".
    var summary: String { get }
    /// The layer's settings as JSON (`{"kind": "linear", "in": 784, …}`); `layer(from:)` rebuilds it.
    var spec: JSON { get }
    /// Trainable parameters, in PyTorch order and with PyTorch names.
    var parameters: [Parameter] { get }
    /// Non-trainable state saved in checkpoints (BatchNorm running statistics).
    var buffers: [(name: String, tensor: Tensor)] { get }
    /// The per-sample output shape for a per-sample input shape.
    /// - Throws: `shapeMismatch` when the layer cannot take that input.
    func outputShape(for inputShape: [Int]) throws -> [Int]
    /// Computes the output for a batch `input` of shape (N, inputShape…).
    func forward(_ input: Tensor, context: ExecutionContext) -> Tensor
    /// Floating-point operations of one sample's forward pass (matrix products only).
    func forwardFLOPs(inputShape: [Int]) -> Int
    /// Back-propagates `dOut` (same shape as the last output).
    func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor?
}

extension Layer {
    /// Floating-point operations of one forward pass of one sample (multiply-adds count 2);
    /// only the matrix products are counted.
    public func forwardFLOPs(inputShape: [Int]) -> Int { 0 }
    public var parameters: [Parameter] { [] }
    public var buffers: [(name: String, tensor: Tensor)] { [] }
}

/// Batch size of a tensor laid out as (N, …).
@inline(__always) func batchSize(_ t: Tensor) -> Int { t.shape.first ?? 0 }
