// The profiler: where a model's training step spends its time.
import CSmallNetABI
import SmallNet

private let optimizerKinds: [Int32: OptimizerKind] = [
    SN_OPTIMIZER_SGD: .sgd, SN_OPTIMIZER_RMSPROP: .rmsprop, SN_OPTIMIZER_ADAM: .adam, SN_OPTIMIZER_ADAMW: .adamw,
    SN_OPTIMIZER_ADAGRAD: .adagrad,
]

@_cdecl("sn_model_profile")
public func sn_model_profile(_ model: OpaquePointer?, _ optimizerKind: Int32, _ lr: Float, _ batchSize: Int32,
                             _ seconds: Double, _ out: UnsafeMutablePointer<sn_step_profile>?,
                             _ layers: UnsafeMutablePointer<sn_layer_profile>?, _ capacity: Int,
                             _ nLayers: UnsafeMutablePointer<Int>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let out = try nonNull(out, "out")
        try checkStructSize(out.pointee.struct_size, MemoryLayout<sn_step_profile>.size, "sn_step_profile")
        let capacity = try size(capacity, "capacity")
        guard capacity == 0 || layers != nil else { throw invalid("layers is NULL with capacity \(capacity)") }
        guard let kind = optimizerKinds[optimizerKind] else {
            throw invalid("unknown optimizer kind \(optimizerKind) (SN_OPTIMIZER_SGD, _RMSPROP, _ADAM, _ADAMW or _ADAGRAD)")
        }
        guard lr.isFinite && lr > 0 else { throw invalid("lr must be a positive number, got \(lr)") }
        guard seconds.isFinite && seconds >= 0 && seconds <= 3600 else { throw invalid("seconds must be in 0...3600, got \(seconds)") }
        let pool = SharedThreads.shared.pool
        let profile = try Profiler.profile(model: box.model, batchSize: Int(batchSize), pool: pool, seconds: seconds) {
            try kind.make(parameters: $0.parameters, learningRate: lr)
        }
        var result = sn_step_profile()
        result.struct_size = UInt32(MemoryLayout<sn_step_profile>.size)
        result.batch_size = batchSize
        result.threads = Int32(profile.threads)
        result.steps = Int32(clamping: profile.rounds)
        result.step_seconds = profile.stepSeconds
        result.loss_seconds = profile.lossSeconds
        result.optimizer_seconds = profile.optimizerSeconds
        result.fma_limit_gflops = fmaPeakGFLOPs(pool: pool, seconds: 0.3)
        // One entry per layer: a fused step's figures on its first layer, zeros on the others.
        let layerCount = box.model.layers.count
        if let layers {
            for i in 0..<Swift.min(capacity, layerCount) { layers[i] = sn_layer_profile() }
            for step in profile.layers where step.index < capacity {
                layers[step.index] = sn_layer_profile(forward_seconds: step.forwardSeconds, backward_seconds: step.backwardSeconds,
                                                      forward_flops: Int64(step.forwardFLOPs), backward_flops: Int64(step.backwardFLOPs))
            }
        }
        out.pointee = result
        nLayers?.pointee = layerCount
    }
}
