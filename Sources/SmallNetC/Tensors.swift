// Named tensors: parameters and buffers by PyTorch name, copied to and from caller buffers.
import CSmallNetABI
import SmallNet

/// Parameters and buffers in PyTorch state_dict order, with their trainability.
func namedTensors(_ model: Sequential) -> [(name: String, tensor: Tensor, parameter: Parameter?)] {
    model.layers.enumerated().flatMap { i, layer in
        layer.parameters.map { ("\(i).\($0.name)", $0.value, $0) }
            + layer.buffers.map { ("\(i).\($0.name)", $0.tensor, nil as Parameter?) }
    }
}

private func findTensor(_ model: Sequential, _ name: UnsafePointer<CChar>?) throws -> (name: String, tensor: Tensor, parameter: Parameter?) {
    let key = try string(name, "name")
    guard let entry = namedTensors(model).first(where: { $0.name == key }) else {
        throw SmallNetError.notFound("no tensor named '\(key)' (names look like \"1.weight\"; see sn_model_tensor_info)")
    }
    return entry
}

@_cdecl("sn_model_n_tensors")
public func sn_model_n_tensors(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        try nonNull(out, "out").pointee = namedTensors(box.model).count
    }
}

@_cdecl("sn_model_tensor_info")
public func sn_model_tensor_info(_ model: OpaquePointer?, _ index: Int, _ out: UnsafeMutablePointer<sn_tensor_info>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let out = try nonNull(out, "out")
        try checkStructSize(out.pointee.struct_size, MemoryLayout<sn_tensor_info>.size, "sn_tensor_info")
        let tensors = namedTensors(box.model)
        guard index >= 0 && index < tensors.count else { throw invalid("tensor index \(index) is outside 0..<\(tensors.count)") }
        let entry = tensors[index]
        var info = sn_tensor_info()
        info.struct_size = UInt32(MemoryLayout<sn_tensor_info>.size)
        copyString(entry.name, into: &info.name)
        info.rank = Int32(entry.tensor.shape.count)
        withUnsafeMutableBytes(of: &info.shape) { raw in
            let dims = raw.bindMemory(to: Int64.self)
            for (i, d) in entry.tensor.shape.prefix(dims.count).enumerated() { dims[i] = Int64(d) }
        }
        info.count = Int64(entry.tensor.count)
        info.trainable = entry.parameter == nil ? 0 : 1
        out.pointee = info
    }
}

private func copyOut(_ tensor: Tensor, _ name: String, _ dst: UnsafeMutablePointer<Float>?, _ capacity: Int) throws {
    let dst = try nonNull(dst, "dst")
    guard capacity >= tensor.count else {
        throw SmallNetError.shapeMismatch("\(name) has \(tensor.count) elements but dst holds \(capacity)")
    }
    dst.update(from: tensor.data, count: tensor.count)
}

@_cdecl("sn_model_get_tensor")
public func sn_model_get_tensor(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ dst: UnsafeMutablePointer<Float>?,
                                _ capacity: Int) -> sn_status {
    guarded {
        let entry = try findTensor(try modelBox(model).model, name)
        try copyOut(entry.tensor, entry.name, dst, capacity)
    }
}

@_cdecl("sn_model_get_grad")
public func sn_model_get_grad(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ dst: UnsafeMutablePointer<Float>?,
                              _ capacity: Int) -> sn_status {
    guarded {
        let entry = try findTensor(try modelBox(model).model, name)
        guard let parameter = entry.parameter else { throw invalid("\(entry.name) is a buffer, not a trainable parameter") }
        try copyOut(parameter.grad, entry.name, dst, capacity)
    }
}

@_cdecl("sn_model_set_grad")
public func sn_model_set_grad(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ src: UnsafePointer<Float>?,
                              _ count: Int) -> sn_status {
    guarded {
        let entry = try findTensor(try modelBox(model).model, name)
        guard let parameter = entry.parameter else { throw invalid("\(entry.name) is a buffer, not a trainable parameter") }
        let src = try nonNull(src, "src")
        guard count == parameter.grad.count else {
            throw SmallNetError.shapeMismatch("\(entry.name) has \(parameter.grad.count) elements (shape \(parameter.grad.shape)), got \(count)")
        }
        for i in 0..<count where !src[i].isFinite {
            throw invalid("src[\(i)] is not finite (\(src[i])); the gradient of \(entry.name) is unchanged")
        }
        parameter.grad.data.update(from: src, count: count)
    }
}

@_cdecl("sn_model_set_tensor")
public func sn_model_set_tensor(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ src: UnsafePointer<Float>?,
                                _ count: Int) -> sn_status {
    guarded {
        let entry = try findTensor(try modelBox(model).model, name)
        let src = try nonNull(src, "src")
        guard count == entry.tensor.count else {
            throw SmallNetError.shapeMismatch("\(entry.name) has \(entry.tensor.count) elements (shape \(entry.tensor.shape)), got \(count)")
        }
        for i in 0..<count where !src[i].isFinite {
            throw invalid("src[\(i)] is not finite (\(src[i])); \(entry.name) is unchanged")
        }
        if Checkpoint.isCounter(entry.name) {
            for i in 0..<count where src[i] != src[i].rounded() || src[i] < 0 || src[i] > Checkpoint.largestCounter {
                throw invalid("\(entry.name) counts batches: a whole number in 0...2^63, got \(src[i])")
            }
        }
        entry.tensor.data.update(from: src, count: count)
    }
}

// MARK: torch.nn.init

/// The size of the first sn_tensor_init (this one).
let tensorInitMinimumSize = MemoryLayout<sn_tensor_init>.size

private func unknownScheme(_ scheme: Int32) -> SmallNetError {
    invalid("unknown scheme \(scheme) (SN_TENSOR_INIT_KAIMING_NORMAL … SN_TENSOR_INIT_CONSTANT, 0…7)")
}

/// torch.nn.init's defaults for `scheme`, as C params.
private func tensorInitDefaults(_ scheme: Int32) throws -> sn_tensor_init {
    guard scheme >= SN_TENSOR_INIT_KAIMING_NORMAL && scheme <= SN_TENSOR_INIT_CONSTANT else { throw unknownScheme(scheme) }
    var p = sn_tensor_init()
    p.struct_size = UInt32(MemoryLayout<sn_tensor_init>.size)
    p.scheme = scheme
    p.mode = SN_FAN_IN
    p.nonlinearity = SN_NONLINEARITY_LEAKY_RELU
    p.a = 0
    p.gain = 1
    p.low = 0
    p.high = 1
    p.mean = 0
    p.std = 1
    p.value = 0
    p.seed = 0
    return p
}

/// The engine's TensorInit for C params.
private func tensorInit(from p: sn_tensor_init) throws -> TensorInit {
    func mode() throws -> Initializers.FanMode {
        switch p.mode {
        case SN_FAN_IN: return .fanIn
        case SN_FAN_OUT: return .fanOut
        default: throw invalid("unknown mode \(p.mode) (SN_FAN_IN 0 or SN_FAN_OUT 1)")
        }
    }
    func nonlinearity() throws -> Nonlinearity {
        switch p.nonlinearity {
        case SN_NONLINEARITY_LINEAR: return .linear
        case SN_NONLINEARITY_SIGMOID: return .sigmoid
        case SN_NONLINEARITY_TANH: return .tanh
        case SN_NONLINEARITY_RELU: return .relu
        case SN_NONLINEARITY_LEAKY_RELU: return .leakyReLU(negativeSlope: p.a)
        case SN_NONLINEARITY_SELU: return .selu
        default: throw invalid("unknown nonlinearity \(p.nonlinearity) (SN_NONLINEARITY_LINEAR … SN_NONLINEARITY_SELU, 0…5)")
        }
    }
    switch p.scheme {
    case SN_TENSOR_INIT_KAIMING_NORMAL: return .kaimingNormal(mode: try mode(), nonlinearity: try nonlinearity())
    case SN_TENSOR_INIT_KAIMING_UNIFORM: return .kaimingUniform(mode: try mode(), nonlinearity: try nonlinearity())
    case SN_TENSOR_INIT_XAVIER_NORMAL: return .xavierNormal(gain: Double(p.gain))
    case SN_TENSOR_INIT_XAVIER_UNIFORM: return .xavierUniform(gain: Double(p.gain))
    case SN_TENSOR_INIT_ORTHOGONAL: return .orthogonal(gain: Double(p.gain))
    case SN_TENSOR_INIT_UNIFORM: return .uniform(low: Double(p.low), high: Double(p.high))
    case SN_TENSOR_INIT_NORMAL: return .normal(mean: Double(p.mean), std: Double(p.std))
    case SN_TENSOR_INIT_CONSTANT: return .constant(Double(p.value))
    default: throw unknownScheme(p.scheme)
    }
}

@_cdecl("sn_tensor_init_default")
public func sn_tensor_init_default(_ scheme: Int32, _ out: UnsafeMutablePointer<sn_tensor_init>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        try writeGrowable(try tensorInitDefaults(scheme), to: out, minimumSize: tensorInitMinimumSize, "sn_tensor_init")
    }
}

@_cdecl("sn_model_init_tensor")
public func sn_model_init_tensor(_ model: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                                 _ params: UnsafePointer<sn_tensor_init>?) -> sn_status {
    guarded {
        let entry = try findTensor(try modelBox(model).model, name)
        let p = try readGrowable(try nonNull(params, "params"), defaults: try tensorInitDefaults(SN_TENSOR_INIT_CONSTANT),
                                 minimumSize: tensorInitMinimumSize, "params->struct_size", "sn_tensor_init")
        var generator = RandomGenerator(seed: p.seed)
        let values = try tensorInit(from: p).values(for: entry.tensor.shape, generator: &generator)
        if Checkpoint.isCounter(entry.name) {
            for i in 0..<values.count where values.data[i] != values.data[i].rounded() || values.data[i] < 0
                || values.data[i] > Checkpoint.largestCounter {
                throw invalid("\(entry.name) counts batches: a whole number in 0...2^63, got \(values.data[i]); it is unchanged")
            }
        }
        entry.tensor.data.update(from: values.data, count: values.count)
    }
}
