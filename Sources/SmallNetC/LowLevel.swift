// The low-level loop: forward into a caller buffer, cross-entropy, backward, zero_grad.
import CSmallNetABI
import SmallNet

@_cdecl("sn_model_forward")
public func sn_model_forward(_ model: OpaquePointer?, _ input: UnsafePointer<Float>?, _ n: Int,
                             _ output: UnsafeMutablePointer<Float>?, _ capacity: Int) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let input = try nonNull(input, "input"), output = try nonNull(output, "output")
        let n = try size(n, "n")
        guard n >= 1 else { throw invalid("n must be at least 1") }
        let shape = [n] + box.model.inputShape
        let x = try Tensor(shape: shape)
        let outputs = box.model.outputShape.reduce(1, *)
        let needed = try product(n, outputs)
        guard capacity >= needed else {
            throw SmallNetError.shapeMismatch("output holds \(capacity) floats; \(n) samples need \(needed)")
        }
        x.data.update(from: input, count: x.count)
        let y = try box.model.forward(x, pool: SharedThreads.shared.pool)
        output.update(from: y.data, count: needed)
    }
}

@_cdecl("sn_cross_entropy")
public func sn_cross_entropy(_ logits: UnsafePointer<Float>?, _ labels: UnsafePointer<Int32>?, _ n: Int, _ classes: Int,
                             _ labelSmoothing: Float, _ loss: UnsafeMutablePointer<Float>?,
                             _ dlogits: UnsafeMutablePointer<Float>?) -> sn_status {
    guarded {
        let logits = try nonNull(logits, "logits"), labels = try nonNull(labels, "labels")
        let loss = try nonNull(loss, "loss")
        let n = try size(n, "n"), classes = try size(classes, "classes")
        guard n >= 1 else { throw invalid("n must be at least 1") }
        guard classes >= 2 else { throw invalid("classes must be at least 2, got \(classes)") }
        let z = try Tensor(shape: [n, classes])
        z.data.update(from: logits, count: z.count)
        let d = dlogits == nil ? nil : try Tensor(shape: [n, classes])
        let result = try softmaxCrossEntropy(logits: z, labels: UnsafeBufferPointer(start: labels, count: n),
                                             labelSmoothing: labelSmoothing, dLogits: d)
        loss.pointee = result.loss
        if let d, let dlogits { dlogits.update(from: d.data, count: d.count) }
    }
}

@_cdecl("sn_model_backward")
public func sn_model_backward(_ model: OpaquePointer?, _ dlogits: UnsafePointer<Float>?, _ n: Int) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let dlogits = try nonNull(dlogits, "dlogits")
        let n = try size(n, "n")
        guard n >= 1 else { throw invalid("n must be at least 1") }
        let d = try Tensor(shape: [n] + box.model.outputShape)
        d.data.update(from: dlogits, count: d.count)
        try box.model.backward(d, pool: SharedThreads.shared.pool)
    }
}

@_cdecl("sn_model_zero_grad")
public func sn_model_zero_grad(_ model: OpaquePointer?) -> sn_status {
    guarded { try modelBox(model).model.zeroGrad() }
}
