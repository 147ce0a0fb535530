// Preprocessing and class names of models and datasets; raw 8-bit images in and out.
import CSmallNetABI
import SmallNet

/// The C struct of a preprocessing (known = 1), or of none (known = 0).
private func cPreprocessing(_ value: Preprocessing?) -> sn_preprocessing {
    var p = sn_preprocessing()
    p.struct_size = UInt32(MemoryLayout<sn_preprocessing>.size)
    guard let value else { return p }
    p.known = 1
    p.pixel_scale = value.pixelScale
    p.channels = Int32(value.mean.count)
    withUnsafeMutableBytes(of: &p.mean) { copy(value.mean, into: $0) }
    withUnsafeMutableBytes(of: &p.std) { copy(value.std, into: $0) }
    return p
}

private func copy(_ values: [Float], into raw: UnsafeMutableRawBufferPointer) {
    let floats = raw.bindMemory(to: Float.self)
    for (i, v) in values.prefix(floats.count).enumerated() { floats[i] = v }
}

/// The engine's preprocessing for a C struct.
/// - Throws: `invalidArgument` for a bad struct_size, channel count or value.
private func preprocessing(_ p: sn_preprocessing) throws -> Preprocessing {
    try checkStructSize(p.struct_size, MemoryLayout<sn_preprocessing>.size, "sn_preprocessing")
    let channels = Int(p.channels)
    guard channels >= 1 && channels <= Preprocessing.maxChannels else {
        throw invalid("preprocessing channels must be in 1...\(Preprocessing.maxChannels), got \(p.channels)")
    }
    var mean = p.mean, std = p.std
    let m = withUnsafeBytes(of: &mean) { Array($0.bindMemory(to: Float.self).prefix(channels)) }
    let s = withUnsafeBytes(of: &std) { Array($0.bindMemory(to: Float.self).prefix(channels)) }
    return try Preprocessing(pixelScale: p.pixel_scale, mean: m, std: s)
}

/// Writes `value` into a caller's struct after checking its struct_size.
private func write(_ value: Preprocessing?, to out: UnsafeMutablePointer<sn_preprocessing>?) throws {
    let out = try nonNull(out, "out")
    try checkStructSize(out.pointee.struct_size, MemoryLayout<sn_preprocessing>.size, "sn_preprocessing")
    out.pointee = cPreprocessing(value)
}

/// `n` C strings as Swift strings (n = 0 allows NULL).
private func strings(_ names: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int) throws -> [String] {
    let n = try size(n, "n")
    guard n > 0 else { return [] }
    let names = try nonNull(names, "names")
    guard n <= 1 << 20 else { throw invalid("n is \(n), more names than any model has classes") }
    return try (0..<n).map { try string(names[$0], "names[\($0)]") }
}

@_cdecl("sn_preprocessing_default")
public func sn_preprocessing_default(_ out: UnsafeMutablePointer<sn_preprocessing>?) -> sn_status {
    guarded { try nonNull(out, "out").pointee = cPreprocessing(.fashionMNIST) }
}

@_cdecl("sn_model_get_preprocessing")
public func sn_model_get_preprocessing(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<sn_preprocessing>?) -> sn_status {
    guarded { try write(try modelBox(model).model.preprocessing, to: out) }
}

@_cdecl("sn_model_set_preprocessing")
public func sn_model_set_preprocessing(_ model: OpaquePointer?, _ value: UnsafePointer<sn_preprocessing>?) -> sn_status {
    guarded {
        let box = try modelBox(model)
        try box.model.setPreprocessing(try value.map { try preprocessing($0.pointee) })
    }
}

@_cdecl("sn_dataset_get_preprocessing")
public func sn_dataset_get_preprocessing(_ dataset: OpaquePointer?, _ out: UnsafeMutablePointer<sn_preprocessing>?) -> sn_status {
    guarded { try write(try datasetBox(dataset).dataset.preprocessing, to: out) }
}

@_cdecl("sn_model_class_name")
public func sn_model_class_name(_ model: OpaquePointer?, _ index: Int32, _ dst: UnsafeMutablePointer<CChar>?,
                                _ capacity: Int) -> sn_status {
    guarded {
        let model = try modelBox(model).model
        let dst = try nonNull(dst, "dst")
        guard capacity >= 1 else { throw invalid("capacity must be at least 1") }
        let classes = model.outputShape.reduce(1, *)
        guard index >= 0 && Int(index) < classes else { throw invalid("class \(index) is outside 0..<\(classes)") }
        copyString(model.className(Int(index)), to: dst, capacity: capacity)
    }
}

@_cdecl("sn_model_set_class_names")
public func sn_model_set_class_names(_ model: OpaquePointer?, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
                                     _ n: Int) -> sn_status {
    guarded {
        let box = try modelBox(model)
        try box.model.setClassNames(try strings(names, n))
    }
}

@_cdecl("sn_dataset_set_class_names")
public func sn_dataset_set_class_names(_ dataset: OpaquePointer?, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
                                       _ n: Int) -> sn_status {
    guarded {
        let box: DatasetBox = try object(dataset, .dataset, "dataset")  // alone: the names change
        try box.dataset.setClassNames(try strings(names, n))
    }
}

@_cdecl("sn_dataset_from_u8")
public func sn_dataset_from_u8(_ images: UnsafePointer<UInt8>?, _ labels: UnsafePointer<Int32>?, _ n: Int,
                               _ channels: Int32, _ height: Int32, _ width: Int32, _ classes: Int32,
                               _ prepared: UnsafePointer<sn_preprocessing>?,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let images = try nonNull(images, "images"), labels = try nonNull(labels, "labels")
        let out = try nonNull(out, "out")
        let n = try size(n, "n")
        guard n >= 1 else { throw invalid("n must be at least 1") }
        guard channels > 0, height > 0, width > 0 else { throw invalid("channels, height and width must be positive") }
        let count = try product(n, Int(channels), Int(height), Int(width))
        let data = try Dataset(rawPixels: Array(UnsafeBufferPointer(start: images, count: count)),
                               labels: Array(UnsafeBufferPointer(start: labels, count: n)),
                               sampleShape: [Int(channels), Int(height), Int(width)], classCount: Int(classes),
                               preprocessing: try prepared.map { try preprocessing($0.pointee) })
        store(DatasetBox(data), .dataset, into: out)
    }
}

@_cdecl("sn_model_predict_u8")
public func sn_model_predict_u8(_ model: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ n: Int,
                                _ probabilities: UnsafeMutablePointer<Float>?, _ capacity: Int) -> sn_status {
    guarded {
        let model = try modelBox(model).model
        let pixels = try nonNull(pixels, "pixels"), out = try nonNull(probabilities, "probabilities")
        let n = try size(n, "n")
        guard n >= 1 else { throw invalid("n must be at least 1") }
        guard let recorded = model.preprocessing else {
            throw SmallNetError.badState("the model records no preprocessing for raw pixels: train it, or set it with sn_model_set_preprocessing")
        }
        let shape = model.inputShape
        guard shape.count == 3 else { throw SmallNetError.shapeMismatch("raw pixels need a model taking (C, H, W) images, not \(shape)") }
        let classes = model.outputShape.reduce(1, *)
        let needed = try product(n, classes)
        guard capacity >= needed else {
            throw SmallNetError.shapeMismatch("probabilities holds \(capacity) floats; \(n) samples need \(needed)")
        }
        let count = try product(n, shape[0], shape[1], shape[2])
        let data = try Dataset(rawPixels: Array(UnsafeBufferPointer(start: pixels, count: count)),
                               labels: [Int32](repeating: 0, count: n), sampleShape: shape,
                               classCount: Swift.max(classes, 2), preprocessing: recorded)
        let p = try Trainer.predict(model: model, data: data, pool: SharedThreads.shared.pool)
        out.update(from: p, count: needed)
    }
}
