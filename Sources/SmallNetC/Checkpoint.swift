// Checkpoints: save and load .safetensors files, read their metadata.
import CSmallNetABI
import SmallNet

@_cdecl("sn_model_save")
public func sn_model_save(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                          _ trainingConfig: UnsafePointer<CChar>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let file = try string(path, "path")
        let config = trainingConfig == nil ? nil : try string(trainingConfig, "training_config")
        try Checkpoint.save(box.model, to: file, trainingConfig: config)
    }
}

@_cdecl("sn_model_load")
public func sn_model_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let file = try string(path, "path")
        let out = try nonNull(out, "out")
        store(ModelBox(try Checkpoint.load(from: file)), .model, into: out)
    }
}

@_cdecl("sn_checkpoint_metadata")
public func sn_checkpoint_metadata(_ path: UnsafePointer<CChar>?, _ key: UnsafePointer<CChar>?,
                                   _ dst: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                   _ length: UnsafeMutablePointer<Int>?) -> sn_status {
    guarded {
        let file = try string(path, "path"), name = try string(key, "key")
        let dst = try nonNull(dst, "dst")
        guard capacity >= 1 else { throw invalid("capacity must be at least 1") }
        guard let value = try Checkpoint.metadata(at: file).first(where: { $0.key == name })?.value else {
            throw SmallNetError.notFound("\(file): no metadata entry '\(name)'")
        }
        let bytes = value.utf8.count
        length?.pointee = bytes
        copyString(value, to: dst, capacity: capacity)
        if capacity <= bytes {
            throw SmallNetError.shapeMismatch("metadata '\(name)' is \(bytes) bytes; dst holds \(capacity) with the NUL")
        }
    }
}

@_cdecl("sn_model_save_to_buffer")
public func sn_model_save_to_buffer(_ model: OpaquePointer?, _ trainingConfig: UnsafePointer<CChar>?,
                                    _ dst: UnsafeMutablePointer<UInt8>?, _ capacity: Int,
                                    _ length: UnsafeMutablePointer<Int>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        let length = try nonNull(length, "length")
        let capacity = try size(capacity, "capacity")
        let config = trainingConfig == nil ? nil : try string(trainingConfig, "training_config")
        let bytes = Checkpoint.serialize(box.model, trainingConfig: config)
        length.pointee = bytes.count
        guard capacity >= bytes.count else {
            throw SmallNetError.shapeMismatch("the checkpoint is \(bytes.count) bytes; dst holds \(capacity)")
        }
        try nonNull(dst, "dst").update(from: bytes, count: bytes.count)
    }
}

@_cdecl("sn_model_load_from_buffer")
public func sn_model_load_from_buffer(_ bytes: UnsafePointer<UInt8>?, _ count: Int,
                                      _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let bytes = try nonNull(bytes, "bytes")
        let out = try nonNull(out, "out")
        let count = try size(count, "size")
        let model = try Checkpoint.load(bytes: Array(UnsafeBufferPointer(start: bytes, count: count)), name: "buffer")
        store(ModelBox(model), .model, into: out)
    }
}
