// Sequential: layers applied in order, with a train/eval switch and PyTorch-style parameter names.

/// A chain of layers with a fixed per-sample input shape.
///
/// Parameter names are "<index>.<name>" ("0.weight", "2.bias"), as in a PyTorch
/// `nn.Sequential` state dict, so weights can be moved to and from PyTorch by name.
public final class Sequential {
    /// Per-sample input shape, e.g. [1, 28, 28].
    public let inputShape: [Int]
    public private(set) var layers: [Layer] = []
    /// Per-sample output shape of each layer.
    public private(set) var layerOutputShapes: [[Int]] = []
    /// Training mode (batch statistics, dropout) or eval mode; the model's own, as a PyTorch
    /// module's `.training`.
    public var isTraining = true
    /// The random state of dropout, drawn from by every forward pass in training mode.
    public let random = RandomSource(seed: 0)
    /// How raw pixels become this model's inputs; nil until training or the caller records it.
    public private(set) var preprocessing: Preprocessing?
    /// One name per output class, or empty when unknown.
    public private(set) var classNames: [String] = []

    /// Whether runs of layers that can share one pass over memory (BatchNorm2d → ReLU →
    /// MaxPool2d(2) on planes of at least 12×12) run fused, with the same numbers bit for bit;
    /// false runs every layer by itself (the reference the fused steps are tested against). A
    /// forward must follow a change.
    public var fusesLayers = true {
        didSet { plan = executionPlan(layers, inputShapes: layerInputShapes, fused: fusesLayers); lastBatch = nil }
    }
    /// The steps a pass runs, in order (`fusesLayers` decides which layers share one).
    private(set) var plan: [PlanStep] = []

    private var lastBatch: Int?

    /// - Throws: `invalidArgument` for an empty or non-positive input shape, or the first
    ///   error of `append`.
    public init(inputShape: [Int], layers: [Layer] = []) throws {
        try require(!inputShape.isEmpty && inputShape.allSatisfy { $0 > 0 } && inputShape.count <= 4,
                    "input shape must have 1 to 4 positive dimensions, got \(inputShape)")
        _ = try Tensor.elementCount(inputShape)
        self.inputShape = inputShape
        for layer in layers { try append(layer) }
    }

    /// Per-sample input shape of each layer.
    var layerInputShapes: [[Int]] { [inputShape] + layerOutputShapes.dropLast() }

    /// Per-sample output shape of the whole model.
    public var outputShape: [Int] { layerOutputShapes.last ?? inputShape }

    /// Appends a layer after checking that it accepts the current output shape.
    /// - Throws: `shapeMismatch` when it does not.
    public func append(_ layer: Layer) throws {
        let shape = try layer.outputShape(for: outputShape)
        layers.append(layer)
        layerOutputShapes.append(shape)
        plan = executionPlan(layers, inputShapes: layerInputShapes, fused: fusesLayers)
        lastBatch = nil
    }

    /// Records how raw pixels become this model's inputs (nil forgets it).
    /// - Throws: `shapeMismatch` when the statistics do not fit the input channels.
    public func setPreprocessing(_ value: Preprocessing?) throws {
        if let value { try value.check(channels: inputShape.count == 3 ? inputShape[0] : 1) }
        preprocessing = value
    }

    /// Names the output classes (one per output, or none to forget them).
    /// - Throws: `invalidArgument` for another number of names.
    public func setClassNames(_ names: [String]) throws {
        let outputs = outputShape.reduce(1, *)
        try require(names.isEmpty || names.count == outputs, "\(names.count) class names for \(outputs) outputs")
        classNames = names
    }

    /// The name of class `index`, or the index as text when the classes are unnamed.
    public func className(_ index: Int) -> String {
        classNames.indices.contains(index) ? classNames[index] : String(index)
    }

    /// An independent copy: architecture, parameters, buffers, mode, random state, preprocessing
    /// and class names.
    public func copy() throws -> Sequential {
        let twin = try Sequential(architecture: architecture)
        for (mine, theirs) in zip(namedParameters, twin.namedParameters) {
            theirs.parameter.value.data.update(from: mine.parameter.value.data, count: mine.parameter.value.count)
        }
        for (mine, theirs) in zip(namedBuffers, twin.namedBuffers) {
            theirs.tensor.data.update(from: mine.tensor.data, count: mine.tensor.count)
        }
        twin.isTraining = isTraining
        twin.fusesLayers = fusesLayers
        twin.random.generator = random.generator
        twin.preprocessing = preprocessing
        twin.classNames = classNames
        return twin
    }

    /// Trainable parameters with their full names, in order.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        layers.enumerated().flatMap { i, layer in layer.parameters.map { ("\(i).\($0.name)", $0) } }
    }

    public var parameters: [Parameter] { layers.flatMap { $0.parameters } }

    /// Non-trainable state (BatchNorm running statistics) with full names.
    public var namedBuffers: [(name: String, tensor: Tensor)] {
        layers.enumerated().flatMap { i, layer in layer.buffers.map { ("\(i).\($0.name)", $0.tensor) } }
    }

    /// Number of trainable scalars (PyTorch's `sum(p.numel() for p in model.parameters())`).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Floating-point operations of one sample's forward pass (matrix products only).
    public var forwardFLOPs: Int {
        var shape = inputShape, total = 0
        for (layer, out) in zip(layers, layerOutputShapes) {
            total += layer.forwardFLOPs(inputShape: shape)
            shape = out
        }
        return total
    }

    /// One line per layer: kind, description, per-sample output shape, parameter count.
    public var layerSummaries: [(kind: String, summary: String, outputShape: [Int], parameters: Int)] {
        zip(layers, layerOutputShapes).map { layer, shape in
            (layer.kind, layer.summary, shape, layer.parameters.reduce(0) { $0 + $1.value.count })
        }
    }

    /// Runs the batch through every layer, in the model's mode, with `pool`'s threads. The result
    /// is owned by the model and valid until the next `forward`.
    /// - Throws: `shapeMismatch` when `input` is not (N, inputShape…) with N ≥ 1;
    ///   `invalidArgument` when a BatchNorm would take batch statistics from one value per
    ///   channel (a batch of one through BatchNorm1d in training mode; BatchNorm2d needs N·H·W > 1).
    public func forward(_ input: Tensor, pool: ThreadPool? = nil) throws -> Tensor {
        guard input.shape.count == inputShape.count + 1, Array(input.shape.dropFirst()) == inputShape,
              input.shape[0] >= 1 else {
            throw SmallNetError.shapeMismatch("model expects input (N, \(inputShape.map(String.init).joined(separator: ", "))), got \(input.shape)")
        }
        if let refusal = batchStatisticsRefusal(batch: input.shape[0], training: isTraining) {
            throw SmallNetError.invalidArgument(refusal)
        }
        let context = ExecutionContext(training: isTraining, random: random, pool: pool)
        var x = input
        for step in plan { x = step.forward(x, context: context) }
        lastBatch = input.shape[0]
        return x
    }

    /// Why a batch of `n` cannot go through the model in this mode, or nil: a BatchNorm taking
    /// batch statistics needs more than one value per channel (N·M > 1, M = 1 for BatchNorm1d,
    /// H·W for BatchNorm2d), as PyTorch.
    public func batchStatisticsRefusal(batch n: Int, training: Bool) -> String? {
        for (index, layer) in layers.enumerated() {
            guard let norm = layer as? BatchNorm, norm.usesBatchStatistics(training: training) else { continue }
            let shape = index == 0 ? inputShape : layerOutputShapes[index - 1]
            let perChannel = shape.dropFirst().reduce(1, *)
            if n * perChannel < 2 {
                return norm is BatchNorm1d && training
                    ? "BatchNorm needs at least 2 samples per batch in training mode"
                    : "\(norm.summary) needs more than one value per channel for batch statistics, got \(n)×\(perChannel)"
            }
        }
        return nil
    }

    /// Back-propagates the gradient of the loss with respect to the last forward's output,
    /// accumulating into every parameter's gradient. The input gradient is not computed.
    /// - Throws: `badState` without a preceding forward; `shapeMismatch` for a wrong `dOut`.
    public func backward(_ dOut: Tensor, pool: ThreadPool? = nil) throws {
        guard let n = lastBatch else {
            throw SmallNetError.badState("backward needs a forward pass on the same batch first")
        }
        guard dOut.shape == [n] + outputShape else {
            throw SmallNetError.shapeMismatch("backward expects a gradient of shape \([n] + outputShape), got \(dOut.shape)")
        }
        let context = ExecutionContext(training: isTraining, random: random, pool: pool)
        var d = dOut
        for step in plan.reversed() {
            guard let next = step.backward(d, needInputGradient: needsInputGradient(step), context: context) else { break }
            d = next
        }
    }

    /// Whether `step`'s backward computes its input gradient: not for the first layer with
    /// parameters, nor for anything before it.
    func needsInputGradient(_ step: PlanStep) -> Bool {
        layers[..<step.layers.lowerBound].contains { !$0.parameters.isEmpty }
    }

    /// Sets every parameter gradient to zero.
    public func zeroGrad() {
        for p in parameters { p.grad.fill(0) }
    }
}
