// Datasets: FashionMNIST, IDX pairs, caller memory; size, samples, subsets, splits.
import CSmallNetABI
import SmallNet

/// What an sn_dataset handle holds.
final class DatasetBox {
    let dataset: Dataset
    init(_ dataset: Dataset) { self.dataset = dataset }
}

/// A dataset for reading: datasets never change once made (but for their class names), so
/// any number of calls may read one at once.
func datasetBox(_ handle: OpaquePointer?, _ name: String = "dataset") throws -> DatasetBox {
    try object(handle, .dataset, name, shared: true)
}

@_cdecl("sn_dataset_load_fashion_mnist")
public func sn_dataset_load_fashion_mnist(_ directory: UnsafePointer<CChar>?, _ train: Int32, _ verify: Int32,
                                          _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        let dir = directory == nil ? nil : try string(directory, "directory")
        let data = try FashionMNIST.load(directory: FashionMNIST.resolveDirectory(dir), train: try flag(train, "train"),
                                         verify: try flag(verify, "verify"))
        store(DatasetBox(data), .dataset, into: out)
    }
}

@_cdecl("sn_dataset_load_idx")
public func sn_dataset_load_idx(_ imagesPath: UnsafePointer<CChar>?, _ labelsPath: UnsafePointer<CChar>?, _ classes: Int32,
                                _ mean: Float, _ std: Float, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let out = try nonNull(out, "out")
        let imagesName = try string(imagesPath, "images_path"), labelsName = try string(labelsPath, "labels_path")
        guard classes >= 2 && classes <= 256 else { throw invalid("classes must be in 2...256, got \(classes)") }
        guard std > 0 && std.isFinite && mean.isFinite else { throw invalid("need a finite mean and std > 0, got \(mean), \(std)") }
        let data = try Dataset.fromIDX(images: try readIDX(imagesName), labels: try readIDX(labelsName),
                                       imagesName: imagesName, labelsName: labelsName, classCount: Int(classes),
                                       mean: mean, std: std)
        store(DatasetBox(data), .dataset, into: out)
    }
}

@_cdecl("sn_dataset_from_memory")
public func sn_dataset_from_memory(_ images: UnsafePointer<Float>?, _ labels: UnsafePointer<Int32>?, _ n: Int,
                                   _ channels: Int32, _ height: Int32, _ width: Int32, _ classes: Int32,
                                   _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let images = try nonNull(images, "images"), labels = try nonNull(labels, "labels")
        let out = try nonNull(out, "out")
        let n = try size(n, "n")
        guard n >= 1 else { throw invalid("n must be at least 1") }
        guard channels > 0, height > 0, width > 0 else { throw invalid("channels, height and width must be positive") }
        let count = try product(n, Int(channels), Int(height), Int(width))
        let data = try Dataset(images: UnsafeBufferPointer(start: images, count: count),
                               labels: UnsafeBufferPointer(start: labels, count: n),
                               sampleShape: [Int(channels), Int(height), Int(width)], classCount: Int(classes))
        store(DatasetBox(data), .dataset, into: out)
    }
}

@_cdecl("sn_dataset_size")
public func sn_dataset_size(_ dataset: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> sn_status {
    guarded {
        let box = try datasetBox(dataset)
        try nonNull(out, "out").pointee = box.dataset.count
    }
}

@_cdecl("sn_dataset_shape")
public func sn_dataset_shape(_ dataset: OpaquePointer?, _ channels: UnsafeMutablePointer<Int32>?,
                             _ height: UnsafeMutablePointer<Int32>?, _ width: UnsafeMutablePointer<Int32>?,
                             _ classes: UnsafeMutablePointer<Int32>?) -> sn_status {
    guarded {
        let data = try datasetBox(dataset).dataset
        channels?.pointee = Int32(data.sampleShape[0])
        height?.pointee = Int32(data.sampleShape[1])
        width?.pointee = Int32(data.sampleShape[2])
        classes?.pointee = Int32(data.classCount)
    }
}

@_cdecl("sn_dataset_get")
public func sn_dataset_get(_ dataset: OpaquePointer?, _ start: Int, _ count: Int, _ images: UnsafeMutablePointer<Float>?,
                           _ imagesCapacity: Int, _ labels: UnsafeMutablePointer<Int32>?, _ labelsCapacity: Int) -> sn_status {
    guarded {
        let data = try datasetBox(dataset).dataset
        let start = try size(start, "start"), count = try size(count, "count")
        guard start <= data.count && count <= data.count - start else {
            throw invalid("\(count) samples from \(start) do not fit in 0..<\(data.count)")
        }
        if images != nil {
            let needed = try product(count, data.sampleSize)
            guard imagesCapacity >= needed else {
                throw SmallNetError.shapeMismatch("images holds \(imagesCapacity) floats; \(count) samples need \(needed)")
            }
        }
        if labels != nil && labelsCapacity < count {
            throw SmallNetError.shapeMismatch("labels holds \(labelsCapacity) values; \(count) samples need \(count)")
        }
        try data.copySamples(start: start, count: count, images: images, labels: labels)
    }
}

@_cdecl("sn_dataset_class_name")
public func sn_dataset_class_name(_ dataset: OpaquePointer?, _ index: Int32, _ dst: UnsafeMutablePointer<CChar>?,
                                  _ capacity: Int) -> sn_status {
    guarded {
        let data = try datasetBox(dataset).dataset
        let dst = try nonNull(dst, "dst")
        guard capacity >= 1 else { throw invalid("capacity must be at least 1") }
        guard index >= 0 && Int(index) < data.classCount else { throw invalid("class \(index) is outside 0..<\(data.classCount)") }
        let name = data.classNames.isEmpty ? String(index) : data.classNames[Int(index)]
        copyString(name, to: dst, capacity: capacity)
    }
}

@_cdecl("sn_dataset_subset")
public func sn_dataset_subset(_ dataset: OpaquePointer?, _ start: Int, _ count: Int,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let data = try datasetBox(dataset).dataset
        let out = try nonNull(out, "out")
        let start = try size(start, "start"), count = try size(count, "count")
        guard count >= 1, start <= data.count, count <= data.count - start else {
            throw invalid("a subset of \(count) samples from \(start) must be non-empty and inside 0..<\(data.count)")
        }
        store(DatasetBox(try data.subset(Array(start..<(start + count)))), .dataset, into: out)
    }
}

@_cdecl("sn_dataset_split")
public func sn_dataset_split(_ dataset: OpaquePointer?, _ holdout: Int, _ seed: UInt64,
                             _ rest: UnsafeMutablePointer<OpaquePointer?>?,
                             _ heldOut: UnsafeMutablePointer<OpaquePointer?>?) -> sn_status {
    guarded {
        let data = try datasetBox(dataset).dataset
        let rest = try nonNull(rest, "rest"), heldOut = try nonNull(heldOut, "held_out")
        let (a, b) = try data.split(holdout: try size(holdout, "holdout"), seed: seed)
        store(DatasetBox(a), .dataset, into: rest)
        store(DatasetBox(b), .dataset, into: heldOut)
    }
}

@_cdecl("sn_dataset_free")
public func sn_dataset_free(_ dataset: OpaquePointer?) { freeHandle(dataset, .dataset) }
