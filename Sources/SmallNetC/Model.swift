// Models: creation, layers, builders, description, mode.
import CSmallNetABI
import SmallNet

/// What an sn_model handle holds.
final class ModelBox {
    let model: Sequential
    init(_ model: Sequential) { self.model = model }
}

func modelBox(_ handle: OpaquePointer?, _ name: String = "model") throws -> ModelBox {
    try object(handle, .model, name)
}

func weightInit(_ value: Int32) throws -> WeightInit {
    switch value {
    case SN_INIT_KAIMING: return .kaimingNormal
    case SN_INIT_PYTORCH: return .pytorchDefault
    case SN_INIT_XAVIER_UNIFORM: return .xavierUniform
    case SN_INIT_XAVIER_NORMAL: return .xavierNormal
    case SN_INIT_ORTHOGONAL: return .orthogonal
    case SN_INIT_KAIMING_FAN_OUT: return .kaimingNormalFanOut
    case SN_INIT_KAIMING_UNIFORM: return .kaimingUniform
    default: throw invalid("init must be an SN_INIT_* value, 0...6, got \(value)")
    }
}

@_cdecl("sn_model_create")
public func sn_model_create(_ channels: Int32, _ height: Int32, _ width: Int32,
                            _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        let model = try Sequential(inputShape: [Int(channels), Int(height), Int(width)])
        store(ModelBox(model), .model, into: out)
    }
}

/// Appends a layer built for the model's current output shape.
private func append(_ handle: OpaquePointer?, _ build: ([Int]) throws -> Layer) -> sn_status {
    guarded {
        let box = try modelBox(handle)
        try box.model.append(try build(box.model.outputShape))
    }
}

@_cdecl("sn_model_add_linear")
public func sn_model_add_linear(_ model: OpaquePointer?, _ outFeatures: Int32, _ bias: Int32, _ initialization: Int32,
                                _ seed: UInt64) -> sn_status {
    append(model) { shape in
        let scheme = try weightInit(initialization)
        var generator = RandomGenerator(seed: seed)
        return try Linear(shape.reduce(1, *), Int(outFeatures), bias: try flag(bias, "bias"), initialization: scheme,
                          generator: &generator)
    }
}

@_cdecl("sn_model_add_relu")
public func sn_model_add_relu(_ model: OpaquePointer?) -> sn_status { append(model) { _ in ReLU() } }

@_cdecl("sn_model_add_dropout")
public func sn_model_add_dropout(_ model: OpaquePointer?, _ p: Float) -> sn_status { append(model) { _ in try Dropout(p: p) } }

@_cdecl("sn_model_add_flatten")
public func sn_model_add_flatten(_ model: OpaquePointer?) -> sn_status { append(model) { _ in Flatten() } }

@_cdecl("sn_model_add_batchnorm1d")
public func sn_model_add_batchnorm1d(_ model: OpaquePointer?, _ momentum: Float, _ eps: Float) -> sn_status {
    append(model) { shape in
        guard shape.count == 1 else {
            throw SmallNetError.shapeMismatch("BatchNorm1d needs flat features; the model's output is \(shape) (add Flatten or Linear first)")
        }
        return try BatchNorm1d(shape[0], momentum: momentum, eps: eps)
    }
}

@_cdecl("sn_model_add_conv2d")
public func sn_model_add_conv2d(_ model: OpaquePointer?, _ outChannels: Int32, _ kernelSize: Int32, _ stride: Int32,
                                _ padding: Int32, _ bias: Int32, _ initialization: Int32, _ seed: UInt64) -> sn_status {
    append(model) { shape in
        guard shape.count == 3 else {
            throw SmallNetError.shapeMismatch("Conv2d needs (C, H, W) inputs; the model's output is \(shape)")
        }
        guard padding >= 0 else { throw invalid("Conv2d padding must be in 0..<kernel size, got \(padding)") }
        let scheme = try weightInit(initialization)
        var generator = RandomGenerator(seed: seed)
        return try Conv2d(shape[0], Int(outChannels), kernelSize: Int(kernelSize), stride: Int(stride),
                          padding: Int(padding), bias: try flag(bias, "bias"), initialization: scheme, generator: &generator)
    }
}

@_cdecl("sn_model_add_maxpool2d")
public func sn_model_add_maxpool2d(_ model: OpaquePointer?, _ kernelSize: Int32, _ stride: Int32) -> sn_status {
    append(model) { _ in try MaxPool2d(kernelSize: Int(kernelSize), stride: stride == 0 ? nil : Int(stride)) }
}

@_cdecl("sn_model_add_avgpool2d")
public func sn_model_add_avgpool2d(_ model: OpaquePointer?, _ kernelSize: Int32, _ stride: Int32) -> sn_status {
    append(model) { _ in try AvgPool2d(kernelSize: Int(kernelSize), stride: stride == 0 ? nil : Int(stride)) }
}

@_cdecl("sn_model_add_globalavgpool2d")
public func sn_model_add_globalavgpool2d(_ model: OpaquePointer?) -> sn_status { append(model) { _ in GlobalAvgPool2d() } }

@_cdecl("sn_model_add_batchnorm2d")
public func sn_model_add_batchnorm2d(_ model: OpaquePointer?, _ momentum: Float, _ eps: Float) -> sn_status {
    append(model) { shape in
        guard shape.count == 3 else {
            throw SmallNetError.shapeMismatch("BatchNorm2d needs (C, H, W) inputs; the model's output is \(shape)")
        }
        return try BatchNorm2d(shape[0], momentum: momentum, eps: eps)
    }
}

@_cdecl("sn_model_add_leaky_relu")
public func sn_model_add_leaky_relu(_ model: OpaquePointer?, _ negativeSlope: Float) -> sn_status {
    append(model) { _ in try LeakyReLU(negativeSlope: negativeSlope) }
}

@_cdecl("sn_model_add_elu")
public func sn_model_add_elu(_ model: OpaquePointer?, _ alpha: Float) -> sn_status { append(model) { _ in try ELU(alpha: alpha) } }

@_cdecl("sn_model_add_gelu")
public func sn_model_add_gelu(_ model: OpaquePointer?, _ approximate: Int32) -> sn_status {
    append(model) { _ in
        switch approximate {
        case SN_GELU_NONE: return GELU(approximate: .none)
        case SN_GELU_TANH: return GELU(approximate: .tanh)
        default: throw invalid("approximate must be SN_GELU_NONE (0) or SN_GELU_TANH (1), got \(approximate)")
        }
    }
}

@_cdecl("sn_model_add_silu")
public func sn_model_add_silu(_ model: OpaquePointer?) -> sn_status { append(model) { _ in SiLU() } }

@_cdecl("sn_model_add_tanh")
public func sn_model_add_tanh(_ model: OpaquePointer?) -> sn_status { append(model) { _ in Tanh() } }

@_cdecl("sn_model_add_sigmoid")
public func sn_model_add_sigmoid(_ model: OpaquePointer?) -> sn_status { append(model) { _ in Sigmoid() } }

@_cdecl("sn_model_add_softmax")
public func sn_model_add_softmax(_ model: OpaquePointer?) -> sn_status { append(model) { _ in Softmax() } }

@_cdecl("sn_model_add_log_softmax")
public func sn_model_add_log_softmax(_ model: OpaquePointer?) -> sn_status { append(model) { _ in LogSoftmax() } }

@_cdecl("sn_model_add_dropout2d")
public func sn_model_add_dropout2d(_ model: OpaquePointer?, _ p: Float) -> sn_status { append(model) { _ in try Dropout2d(p: p) } }

@_cdecl("sn_model_add_layernorm")
public func sn_model_add_layernorm(_ model: OpaquePointer?, _ normalizedDims: Int32, _ eps: Float,
                                   _ elementwiseAffine: Int32) -> sn_status {
    append(model) { shape in
        guard (1...3).contains(normalizedDims), Int(normalizedDims) <= shape.count else {
            throw invalid("normalized_dims must be in 1...\(Swift.min(3, shape.count)) for the model's output \(shape), got \(normalizedDims)")
        }
        return try LayerNorm(normalizedShape: Array(shape.suffix(Int(normalizedDims))), eps: eps,
                             elementwiseAffine: try flag(elementwiseAffine, "elementwise_affine"))
    }
}

@_cdecl("sn_cnn_params_default")
public func sn_cnn_params_default(_ out: UnsafeMutablePointer<sn_cnn_params>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        let recipe = Recipe.defaults(for: .cnn)
        var p = sn_cnn_params()
        p.struct_size = UInt32(MemoryLayout<sn_cnn_params>.size)
        p.channels = 1; p.height = 28; p.width = 28
        p.classes = 10
        p.widths = nil
        p.n_blocks = 0
        p.param_budget = Int64(recipe.parameterBudget)
        p.head = recipe.cnnHead == .linear ? SN_CNN_HEAD_LINEAR : SN_CNN_HEAD_GLOBAL_AVERAGE
        p.dropout = -1
        p.`init` = SN_INIT_KAIMING
        p.seed = 0
        out.pointee = p
    }
}

@_cdecl("sn_model_create_cnn")
public func sn_model_create_cnn(_ params: UnsafePointer<sn_cnn_params>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let p = try nonNull(params, "params").pointee
        let out = try nonNull(out, "out")
        try checkStructSize(p.struct_size, MemoryLayout<sn_cnn_params>.size, "sn_cnn_params")
        var recipe = Recipe.defaults(for: .cnn)
        if let widths = p.widths {
            let n = try size(p.n_blocks, "n_blocks")
            guard n >= 1 && n <= 16 else { throw invalid("n_blocks must be in 1...16, got \(n)") }
            recipe.channels = (0..<n).map { Int(widths[$0]) }
        } else {
            guard p.n_blocks == 0 else { throw invalid("widths is NULL but n_blocks is \(p.n_blocks)") }
            recipe.parameterBudget = Int(p.param_budget)
        }
        switch p.head {
        case SN_CNN_HEAD_LINEAR: recipe.cnnHead = .linear
        case SN_CNN_HEAD_GLOBAL_AVERAGE: recipe.cnnHead = .globalAverage
        default: throw invalid("head must be SN_CNN_HEAD_LINEAR (0) or SN_CNN_HEAD_GLOBAL_AVERAGE (1), got \(p.head)")
        }
        guard p.dropout.isFinite || p.dropout < 0 else { throw invalid("dropout must be finite, got \(p.dropout)") }
        recipe.dropout = p.dropout < 0 ? nil : p.dropout
        recipe.initialization = try weightInit(p.`init`)
        recipe.training.seed = p.seed
        let model = try recipe.buildModel(inputShape: [Int(p.channels), Int(p.height), Int(p.width)],
                                          classes: Int(p.classes))
        store(ModelBox(model), .model, into: out)
    }
}

@_cdecl("sn_fcn_params_default")
public func sn_fcn_params_default(_ out: UnsafeMutablePointer<sn_fcn_params>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        let recipe = Recipe.defaults(for: .fcn)
        var p = sn_fcn_params()
        p.struct_size = UInt32(MemoryLayout<sn_fcn_params>.size)
        p.channels = 1; p.height = 28; p.width = 28
        p.classes = 10
        p.hidden = nil
        p.n_hidden = 0
        p.param_budget = Int64(recipe.parameterBudget)
        p.dropout = -1
        p.batchnorm = recipe.batchNorm ? 1 : 0
        p.`init` = SN_INIT_KAIMING
        p.seed = 0
        out.pointee = p
    }
}

@_cdecl("sn_model_create_fcn")
public func sn_model_create_fcn(_ params: UnsafePointer<sn_fcn_params>?,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let p = try nonNull(params, "params").pointee
        let out = try nonNull(out, "out")
        try checkStructSize(p.struct_size, MemoryLayout<sn_fcn_params>.size, "sn_fcn_params")
        var recipe = Recipe.defaults(for: .fcn)
        if let hidden = p.hidden {
            let n = try size(p.n_hidden, "n_hidden")
            guard n >= 1 && n <= 64 else { throw invalid("n_hidden must be in 1...64, got \(n)") }
            recipe.hidden = (0..<n).map { Int(hidden[$0]) }
        } else {
            guard p.n_hidden == 0 else { throw invalid("hidden is NULL but n_hidden is \(p.n_hidden)") }
            recipe.parameterBudget = Int(p.param_budget)
        }
        guard p.dropout.isFinite || p.dropout < 0 else { throw invalid("dropout must be finite, got \(p.dropout)") }
        recipe.dropout = p.dropout < 0 ? nil : p.dropout
        recipe.batchNorm = try flag(p.batchnorm, "batchnorm")
        recipe.initialization = try weightInit(p.`init`)
        recipe.training.seed = p.seed
        let model = try recipe.buildModel(inputShape: [Int(p.channels), Int(p.height), Int(p.width)],
                                          classes: Int(p.classes))
        store(ModelBox(model), .model, into: out)
    }
}

@_cdecl("sn_model_clone")
public func sn_model_clone(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let out = try nonNull(out, "out")
        store(ModelBox(try box.model.copy()), .model, into: out)
    }
}

@_cdecl("sn_model_free")
public func sn_model_free(_ model: OpaquePointer?) { freeHandle(model, .model) }

@_cdecl("sn_model_n_params")
public func sn_model_n_params(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        try nonNull(out, "out").pointee = Int64(box.model.parameterCount)
    }
}

@_cdecl("sn_model_input_shape")
public func sn_model_input_shape(_ model: OpaquePointer?, _ channels: UnsafeMutablePointer<Int32>?,
                                 _ height: UnsafeMutablePointer<Int32>?, _ width: UnsafeMutablePointer<Int32>?) -> sn_status {
    guarded {
        let shape = try modelBox(model).model.inputShape
        let padded = [Int](repeating: 1, count: Swift.max(0, 3 - shape.count)) + shape
        channels?.pointee = Int32(padded[padded.count - 3])
        height?.pointee = Int32(padded[padded.count - 2])
        width?.pointee = Int32(padded[padded.count - 1])
    }
}

@_cdecl("sn_model_n_outputs")
public func sn_model_n_outputs(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        try nonNull(out, "out").pointee = Int64(box.model.outputShape.reduce(1, *))
    }
}

@_cdecl("sn_model_n_layers")
public func sn_model_n_layers(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        try nonNull(out, "out").pointee = box.model.layers.count
    }
}

private let layerKinds: [String: Int32] = [
    "linear": SN_LAYER_LINEAR, "relu": SN_LAYER_RELU, "dropout": SN_LAYER_DROPOUT,
    "batchnorm1d": SN_LAYER_BATCHNORM1D, "flatten": SN_LAYER_FLATTEN, "conv2d": SN_LAYER_CONV2D,
    "maxpool2d": SN_LAYER_MAXPOOL2D, "avgpool2d": SN_LAYER_AVGPOOL2D, "batchnorm2d": SN_LAYER_BATCHNORM2D,
    "globalavgpool2d": SN_LAYER_GLOBALAVGPOOL2D,
    "leakyrelu": SN_LAYER_LEAKY_RELU, "elu": SN_LAYER_ELU, "gelu": SN_LAYER_GELU, "silu": SN_LAYER_SILU,
    "tanh": SN_LAYER_TANH, "sigmoid": SN_LAYER_SIGMOID, "softmax": SN_LAYER_SOFTMAX, "logsoftmax": SN_LAYER_LOG_SOFTMAX,
    "dropout2d": SN_LAYER_DROPOUT2D, "layernorm": SN_LAYER_LAYERNORM,
    "adaptiveavgpool2d": SN_LAYER_ADAPTIVEAVGPOOL2D,
]

@_cdecl("sn_model_layer_info")
public func sn_model_layer_info(_ model: OpaquePointer?, _ index: Int, _ out: UnsafeMutablePointer<sn_layer_info>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let out = try nonNull(out, "out")
        try checkStructSize(out.pointee.struct_size, MemoryLayout<sn_layer_info>.size, "sn_layer_info")
        let layers = box.model.layerSummaries
        guard index >= 0 && index < layers.count else { throw invalid("layer index \(index) is outside 0..<\(layers.count)") }
        let layer = layers[index]
        var info = sn_layer_info()
        info.struct_size = UInt32(MemoryLayout<sn_layer_info>.size)
        info.kind = layerKinds[layer.kind] ?? 0
        info.n_params = Int64(layer.parameters)
        info.rank = Int32(layer.outputShape.count)
        withUnsafeMutableBytes(of: &info.shape) { raw in
            let dims = raw.bindMemory(to: Int64.self)
            for (i, d) in layer.outputShape.prefix(dims.count).enumerated() { dims[i] = Int64(d) }
        }
        copyString(layer.summary, into: &info.summary)
        out.pointee = info
    }
}

@_cdecl("sn_model_set_training")
public func sn_model_set_training(_ model: OpaquePointer?, _ training: Int32) -> sn_status {
    guarded {
        let box = try modelBox(model)
        box.model.isTraining = try flag(training, "training")
    }
}

@_cdecl("sn_model_is_training")
public func sn_model_is_training(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        try nonNull(out, "out").pointee = box.model.isTraining ? 1 : 0
    }
}
