// Losses: sn_loss_params_default and sn_loss, and the C params ↔ engine Loss converter.
import CSmallNetABI
import SmallNet

/// PyTorch's defaults for a loss kind, as C params.
func lossDefaults(_ kind: Int32) throws -> sn_loss_params {
    _ = try lossKind(kind)
    var p = sn_loss_params()
    p.struct_size = UInt32(MemoryLayout<sn_loss_params>.size)
    p.kind = kind
    p.reduction = SN_REDUCTION_MEAN
    p.label_smoothing = 0
    p.ignore_index = -100
    p.class_weights = nil
    p.n_class_weights = 0
    p.beta = 1
    p.delta = 1
    p.pos_weight = nil
    p.n_pos_weight = 0
    return p
}

private func lossKind(_ kind: Int32) throws -> Loss.Kind {
    switch kind {
    case SN_LOSS_CROSS_ENTROPY: return .crossEntropy
    case SN_LOSS_NLL: return .nll
    case SN_LOSS_MSE: return .mse
    case SN_LOSS_L1: return .l1
    case SN_LOSS_SMOOTH_L1: return .smoothL1
    case SN_LOSS_HUBER: return .huber
    case SN_LOSS_BCE_WITH_LOGITS: return .bceWithLogits
    default: throw invalid("loss kind must be one of SN_LOSS_* (0...6), got \(kind)")
    }
}

/// The engine's loss for C params (the weight arrays are copied).
func loss(from p: sn_loss_params, _ name: String = "params") throws -> Loss {
    try checkStructSize(p.struct_size, MemoryLayout<sn_loss_params>.size, "sn_loss_params")
    let reduction: Reduction
    switch p.reduction {
    case SN_REDUCTION_MEAN: reduction = .mean
    case SN_REDUCTION_SUM: reduction = .sum
    case SN_REDUCTION_NONE: reduction = .none
    default: throw invalid("\(name).reduction must be SN_REDUCTION_MEAN, _SUM or _NONE (0...2), got \(p.reduction)")
    }
    var loss = Loss(try lossKind(p.kind), reduction: reduction)
    loss.labelSmoothing = p.label_smoothing
    loss.ignoreIndex = p.ignore_index
    loss.beta = p.beta
    loss.delta = p.delta
    loss.weight = try floats(p.class_weights, p.n_class_weights, "\(name).class_weights")
    loss.posWeight = try floats(p.pos_weight, p.n_pos_weight, "\(name).pos_weight")
    try loss.validate()
    return loss
}

/// A borrowed C array as [Float], nil for NULL (whose count must then be 0).
private func floats(_ p: UnsafePointer<Float>?, _ count: Int, _ name: String) throws -> [Float]? {
    guard let p else {
        guard count == 0 else { throw invalid("\(name) is NULL but its count is \(count)") }
        return nil
    }
    guard count >= 1 && count <= 1 << 24 else { throw invalid("\(name) has \(count) entries") }
    return Array(UnsafeBufferPointer(start: p, count: count))
}

@_cdecl("sn_loss_params_default")
public func sn_loss_params_default(_ kind: Int32, _ out: UnsafeMutablePointer<sn_loss_params>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        out.pointee = try lossDefaults(kind)
    }
}

@_cdecl("sn_loss")
public func sn_loss(_ params: UnsafePointer<sn_loss_params>?, _ input: UnsafePointer<Float>?, _ n: Int, _ classes: Int,
                    _ labels: UnsafePointer<Int32>?, _ targets: UnsafePointer<Float>?,
                    _ out: UnsafeMutablePointer<Float>?, _ outCapacity: Int,
                    _ dinput: UnsafeMutablePointer<Float>?) -> sn_status {
    guarded {
        let lossFunction = try loss(from: try nonNull(params, "params").pointee)
        let input = try nonNull(input, "input"), out = try nonNull(out, "out")
        let n = try size(n, "n"), classes = try size(classes, "classes")
        guard n >= 1 else { throw invalid("n must be at least 1") }
        guard classes >= 1 else { throw invalid("classes must be at least 1") }
        let count = try product(n, classes)
        let needed = lossFunction.valueCount(rows: n, classes: classes)
        guard try size(outCapacity, "out_capacity") >= needed else {
            throw SmallNetError.shapeMismatch("out holds \(outCapacity) floats; this loss writes \(needed)")
        }
        let x = try Tensor(shape: [n, classes])
        x.data.update(from: input, count: count)
        let d = dinput == nil ? nil : try Tensor(shape: [n, classes])
        let result: [Float]
        if lossFunction.takesLabels {
            let labels = try nonNull(labels, "labels")
            result = try lossFunction.compute(input: x, labels: UnsafeBufferPointer(start: labels, count: n), dInput: d).values
        } else {
            let targets = try nonNull(targets, "targets")
            result = try lossFunction.compute(input: x, targets: UnsafeBufferPointer(start: targets, count: count), dInput: d).values
        }
        for (i, v) in result.enumerated() { out[i] = v }
        if let d, let dinput { dinput.update(from: d.data, count: count) }
    }
}
