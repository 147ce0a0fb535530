// Layer specs: a model's layers and input shape as JSON ("smallnet.architecture"), written into checkpoints and read back.

extension Sequential {
    /// `{"input": [C, H, W], "layers": [layer specs…]}`.
    public var architecture: JSON {
        .object([("input", .array(inputShape.map { .number($0) })), ("layers", .array(layers.map(\.spec)))])
    }

    /// Rebuilds a model (with freshly initialised parameters) from `architecture`.
    /// - Parameter stateLimit: the most parameter and buffer values the layers may hold
    ///   together, checked before anything is allocated (a checkpoint passes what its file holds).
    /// - Throws: `io` for a malformed description or one above `stateLimit`, or the layers' own errors.
    public convenience init(architecture: JSON, stateLimit: Int = 1 << 31) throws {
        guard let entries = architecture["input"]?.arrayValue, let specs = architecture["layers"]?.arrayValue,
              entries.count <= 3, case let input = entries.compactMap(\.intValue), input.count == entries.count else {
            throw SmallNetError.io("architecture needs \"input\" (at most 3 integers: C, H, W) and \"layers\" (a list)")
        }
        var state = 0
        for spec in specs {
            let (sum, overflow) = state.addingReportingOverflow(stateCount(of: spec))
            guard !overflow, sum <= stateLimit else {
                throw SmallNetError.io("the architecture declares more parameters than the \(stateLimit) values it may hold")
            }
            state = sum
        }
        try self.init(inputShape: input)
        for spec in specs { try append(layer(from: spec, inputShape: outputShape)) }
    }
}

/// The parameter and buffer values a layer spec declares (Int.max when they overflow), from
/// its numbers alone, so a description can be checked before any layer is allocated.
private func stateCount(of spec: JSON) -> Int {
    func int(_ key: String) -> Int { Swift.min(Swift.max(spec[key]?.intValue ?? 0, 0), 1 << 40) }
    func product(_ factors: Int...) -> Int {
        var n = 1
        for f in factors {
            let (r, overflow) = n.multipliedReportingOverflow(by: f)
            if overflow { return Int.max }
            n = r
        }
        return n
    }
    func plusOne(_ n: Int) -> Int { n == Int.max ? n : n + 1 }
    let bias = spec["bias"]?.boolValue ?? true ? 1 : 0
    switch spec["kind"]?.stringValue {
    case "linear": return product(bias == 1 ? plusOne(int("in")) : int("in"), int("out"))
    case "conv2d":
        let taps = product(int("in") / Swift.max(spec["groups"]?.intValue ?? 1, 1), int("kernel"), int("kernel"))
        return product(bias == 1 ? plusOne(taps) : taps, int("out"))
    case "batchnorm1d": return plusOne(product(int("features"), 4))
    case "batchnorm2d": return plusOne(product(int("channels"), 4))
    case "layernorm":
        guard spec["affine"]?.boolValue ?? true else { return 0 }
        let dims = (spec["shape"]?.arrayValue ?? []).prefix(3).map { Swift.min(Swift.max($0.intValue ?? 0, 0), 1 << 40) }
        return dims.reduce(2) { product($0, $1) }   // weight and bias
    default: return 0
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
    case "batchnorm1d":
        return try BatchNorm1d(try int("features"), momentum: try float("momentum"), eps: try float("eps"),
                               affine: spec["affine"]?.boolValue ?? true,
                               trackRunningStats: spec["track_running_stats"]?.boolValue ?? true)
    case "batchnorm2d":
        return try BatchNorm2d(try int("channels"), momentum: try float("momentum"), eps: try float("eps"),
                               affine: spec["affine"]?.boolValue ?? true,
                               trackRunningStats: spec["track_running_stats"]?.boolValue ?? true)
    case "conv2d":
        return try Conv2d(try int("in"), try int("out"), kernelSize: try int("kernel"), stride: try int("stride"),
                          padding: try int("padding"), dilation: spec["dilation"]?.intValue ?? 1,
                          groups: spec["groups"]?.intValue ?? 1, bias: spec["bias"]?.boolValue ?? true, generator: &generator)
    case "maxpool2d":
        return try MaxPool2d(kernelSize: try int("kernel"), stride: try int("stride"), padding: spec["padding"]?.intValue ?? 0,
                             ceilMode: spec["ceil_mode"]?.boolValue ?? false)
    case "avgpool2d":
        return try AvgPool2d(kernelSize: try int("kernel"), stride: try int("stride"), padding: spec["padding"]?.intValue ?? 0,
                             ceilMode: spec["ceil_mode"]?.boolValue ?? false,
                             countIncludePad: spec["count_include_pad"]?.boolValue ?? true)
    case "adaptiveavgpool2d": return try AdaptiveAvgPool2d(outHeight: try int("out_height"), outWidth: try int("out_width"))
    case "globalavgpool2d": return GlobalAvgPool2d()
    case "leakyrelu": return try LeakyReLU(negativeSlope: try float("negative_slope"))
    case "elu": return try ELU(alpha: try float("alpha"))
    case "gelu":
        guard let approximate = spec["approximate"]?.stringValue.flatMap(GELU.Approximation.init(rawValue:)) else {
            throw SmallNetError.io("layer spec \(spec.serialized()) needs \"approximate\": \"none\" or \"tanh\"")
        }
        return GELU(approximate: approximate)
    case "silu": return SiLU()
    case "tanh": return Tanh()
    case "sigmoid": return Sigmoid()
    case "softmax": return Softmax()
    case "logsoftmax": return LogSoftmax()
    case "dropout2d": return try Dropout2d(p: try float("p"))
    case "layernorm":
        guard let shape = spec["shape"]?.arrayValue?.compactMap(\.intValue), shape.count == spec["shape"]?.arrayValue?.count else {
            throw SmallNetError.io("layer spec \(spec.serialized()) lacks integer list \"shape\"")
        }
        return try LayerNorm(normalizedShape: shape, eps: try float("eps"), elementwiseAffine: spec["affine"]?.boolValue ?? true)
    default: throw SmallNetError.io("unknown layer kind in \(spec.serialized())")
    }
}
