// Architectures as JSON: a model's layers and input shape, written into checkpoints and read back.

extension Sequential {
    /// `{"input": [C, H, W], "layers": [layer specs…]}`.
    public var architecture: JSON {
        .object([("input", .array(inputShape.map { .number($0) })), ("layers", .array(layers.map(\.spec)))])
    }

    /// Rebuilds a model (with freshly initialised parameters) from `architecture`.
    /// - Throws: `io` for a malformed description, or the layers' own errors.
    public convenience init(architecture: JSON) throws {
        guard let input = architecture["input"]?.arrayValue?.compactMap(\.intValue),
              let specs = architecture["layers"]?.arrayValue else {
            throw SmallNetError.io("architecture needs \"input\" (integers) and \"layers\" (a list)")
        }
        try self.init(inputShape: input)
        for spec in specs { try append(layer(from: spec, inputShape: outputShape)) }
    }
}

/// Builds the layer a spec describes, for a per-sample input shape.
/// - Throws: `io` for an unknown kind or missing settings.
func layer(from spec: JSON, inputShape: [Int]) throws -> Layer {
    func int(_ key: String) throws -> Int {
        guard let v = spec[key]?.intValue else { throw SmallNetError.io("layer spec \(spec.serialized()) lacks integer \"\(key)\"") }
        return v
    }
    func float(_ key: String) throws -> Float {
        guard let v = spec[key]?.doubleValue else { throw SmallNetError.io("layer spec \(spec.serialized()) lacks number \"\(key)\"") }
        return Float(v)
    }
    var generator = RandomGenerator(seed: 0)
    switch spec["kind"]?.stringValue {
    case "linear": return try Linear(try int("in"), try int("out"), bias: spec["bias"]?.boolValue ?? true, generator: &generator)
    case "relu": return ReLU()
    case "flatten": return Flatten()
    case "dropout": return try Dropout(p: try float("p"))
    case "batchnorm1d": return try BatchNorm1d(try int("features"), momentum: try float("momentum"), eps: try float("eps"))
    case "batchnorm2d": return try BatchNorm2d(try int("channels"), momentum: try float("momentum"), eps: try float("eps"))
    case "conv2d":
        return try Conv2d(try int("in"), try int("out"), kernelSize: try int("kernel"), stride: try int("stride"),
                          padding: try int("padding"), bias: spec["bias"]?.boolValue ?? true, generator: &generator)
    case "maxpool2d": return try MaxPool2d(kernelSize: try int("kernel"), stride: try int("stride"))
    case "avgpool2d": return try AvgPool2d(kernelSize: try int("kernel"), stride: try int("stride"))
    case "globalavgpool2d": return GlobalAvgPool2d()
    default: throw SmallNetError.io("unknown layer kind in \(spec.serialized())")
    }
}
