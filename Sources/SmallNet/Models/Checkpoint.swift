// Checkpoints in the safetensors format: tensors under PyTorch names, architecture in the metadata.
#if canImport(Glibc)
import Glibc
#endif

/// Saving and loading models as `.safetensors` files.
///
/// Layout (safetensors): an 8-byte little-endian header length, a JSON header mapping each
/// tensor name to `{"dtype", "shape", "data_offsets"}` plus `"__metadata__"` (string → string),
/// then the raw little-endian data. Parameters and running statistics are F32 under their
/// PyTorch names; `num_batches_tracked` is I64, as PyTorch keeps it. The metadata holds
/// `smallnet.architecture` (JSON), `smallnet.version`, and when known
/// `smallnet.preprocessing` (JSON, `Preprocessing.json`), `smallnet.class_names` (a JSON list)
/// and `smallnet.training_config`.
public enum Checkpoint {
    /// Writes `model` to `path` atomically.
    /// - Throws: `io` when the file cannot be written.
    public static func save(_ model: Sequential, to path: String, trainingConfig: String? = nil) throws {
        try writeFileAtomically(path, bytes: serialize(model, trainingConfig: trainingConfig))
    }

    /// The bytes of the `.safetensors` file `save` writes.
    public static func serialize(_ model: Sequential, trainingConfig: String? = nil) -> [UInt8] {
        var metadata: [(String, JSON)] = [
            ("smallnet.architecture", .string(model.architecture.serialized())),
            ("smallnet.version", .string(SmallNetVersion.string)),
        ]
        if let preprocessing = model.preprocessing {
            metadata.append(("smallnet.preprocessing", .string(preprocessing.json.serialized())))
        }
        if !model.classNames.isEmpty {
            metadata.append(("smallnet.class_names", .string(JSON.array(model.classNames.map { .string($0) }).serialized())))
        }
        if let trainingConfig { metadata.append(("smallnet.training_config", .string(trainingConfig))) }
        var header: [(String, JSON)] = [("__metadata__", .object(metadata))]
        var payload: [UInt8] = []
        for (name, tensor) in stateTensors(model) {
            let start = payload.count
            let dtype: String
            if isCounter(name) {
                dtype = "I64"
                // Counters are whole numbers below 2^63 (set_tensor and load keep them so).
                let count = Int64(exactly: tensor.data[0]) ?? 0
                withUnsafeBytes(of: count.littleEndian) { payload.append(contentsOf: $0) }
            } else {
                dtype = "F32"
                payload.append(contentsOf: UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * 4))
            }
            header.append((name, .object([
                ("dtype", .string(dtype)),
                ("shape", .array(tensor.shape.map { .number($0) })),
                ("data_offsets", .array([.number(start), .number(payload.count)])),
            ])))
        }
        var headerBytes = Array(JSON.object(header).serialized().utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var file: [UInt8] = []
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { file.append(contentsOf: $0) }
        file += headerBytes
        file += payload
        return file
    }

    /// Reads a model written by `save`, in eval mode.
    /// - Throws: `notFound` for a missing file; `io` for a malformed file, a missing or
    ///   extra tensor, or a tensor whose dtype or shape does not match the architecture.
    public static func load(from path: String) throws -> Sequential {
        try load(bytes: try readFile(path), name: path)
    }

    /// Reads a model from the bytes of a `.safetensors` file (`serialize`), in eval mode;
    /// `name` names the source in error messages.
    /// - Throws: `io` as for `load(from:)`.
    public static func load(bytes data: [UInt8], name path: String) throws -> Sequential {
        let (header, bodyStart) = try parseHeader(data, name: path)
        guard let text = metadataValue(header, "smallnet.architecture") else {
            throw SmallNetError.io("\(path): no smallnet.architecture in the metadata (not a smallnet checkpoint)")
        }
        let model: Sequential
        // Every value the architecture declares takes at least 4 bytes of the file.
        let stateLimit = (data.count - bodyStart) / 4
        do { model = try Sequential(architecture: try JSON.parse(text), stateLimit: stateLimit) } catch let e as SmallNetError {
            throw SmallNetError.io("\(path): bad architecture: \(e.message)")
        }
        let layout = try tensorLayout(header, bodySize: data.count - bodyStart, name: path)
        let expected = stateTensors(model)
        for name in layout.keys where !expected.contains(where: { $0.name == name }) {
            throw SmallNetError.io("\(path): unexpected tensor \(name) for this architecture")
        }
        for (name, tensor) in expected {
            guard let entry = layout[name] else { throw SmallNetError.io("\(path): tensor \(name) is missing") }
            guard entry.shape == tensor.shape else {
                throw SmallNetError.io("\(path): tensor \(name) has shape \(entry.shape), the architecture needs \(tensor.shape)")
            }
            let bytes = entry.end - entry.start, at = bodyStart + entry.start
            switch entry.dtype {
            case "F32" where bytes == tensor.count * 4:
                data.withUnsafeBytes { raw in
                    for i in 0..<tensor.count {
                        tensor.data[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 4 * i, as: UInt32.self)))
                    }
                }
            case "I64" where bytes == tensor.count * 8:
                data.withUnsafeBytes { raw in
                    for i in 0..<tensor.count {
                        // Float rounds a counter near 2^63 up to 2^63; keep it below, a whole number.
                        let count = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at + 8 * i, as: Int64.self))
                        tensor.data[i] = Swift.min(Float(Swift.max(count, 0)), Checkpoint.largestCounter)
                    }
                }
            default:
                throw SmallNetError.io("\(path): tensor \(name) has an unsupported dtype or size (F32 or I64 expected)")
            }
            guard (0..<tensor.count).allSatisfy({ tensor.data[$0].isFinite }) else {
                throw SmallNetError.io("\(path): tensor \(name) holds non-finite values")
            }
        }
        do {
            if let text = metadataValue(header, "smallnet.preprocessing") {
                try model.setPreprocessing(try Preprocessing(json: try JSON.parse(text)))
            }
            if let text = metadataValue(header, "smallnet.class_names") {
                guard let names = try JSON.parse(text).arrayValue?.compactMap(\.stringValue) else {
                    throw SmallNetError.io("smallnet.class_names is not a list of strings")
                }
                try model.setClassNames(names)
            }
        } catch let e as SmallNetError {
            throw SmallNetError.io("\(path): bad metadata: \(e.message)")
        }
        model.isTraining = false
        return model
    }

    /// The metadata strings of a checkpoint.
    public static func metadata(at path: String) throws -> [(key: String, value: String)] {
        let (header, _) = try parseHeader(try readFile(path), name: path)
        guard case .object(let members)? = header["__metadata__"] else { return [] }
        return members.compactMap { key, value in value.stringValue.map { (key, $0) } }
    }

    /// Parameters and buffers in PyTorch state_dict order: per layer, parameters then buffers.
    static func stateTensors(_ model: Sequential) -> [(name: String, tensor: Tensor)] {
        model.layers.enumerated().flatMap { i, layer in
            layer.parameters.map { ("\(i).\($0.name)", $0.value) } + layer.buffers.map { ("\(i).\($0.name)", $0.tensor) }
        }
    }

    /// Where a tensor's bytes lie in the data section.
    struct TensorEntry {
        let dtype: String
        let shape: [Int]
        let start: Int, end: Int
    }

    /// Bytes per element of the safetensors dtypes.
    static let dtypeSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
    ]

    /// The tensors of a header, checked as strictly as the format's reference reader does:
    /// unique names, string metadata, known dtypes, non-negative integer shapes whose size
    /// matches the byte range, and byte ranges that tile the data section exactly (in order,
    /// no gap, no overlap, nothing after).
    /// - Throws: `io` naming the file and the first problem.
    static func tensorLayout(_ header: JSON, bodySize: Int, name path: String) throws -> [String: TensorEntry] {
        guard case .object(let members) = header else { throw SmallNetError.io("\(path): the header is not a JSON object") }
        var layout: [String: TensorEntry] = [:]
        var seenMetadata = false
        for (name, value) in members {
            guard layout[name] == nil, !(name == "__metadata__" && seenMetadata) else {
                throw SmallNetError.io("\(path): the header names \(name) twice")
            }
            if name == "__metadata__" {
                guard case .object(let entries) = value, entries.allSatisfy({ $0.1.stringValue != nil }) else {
                    throw SmallNetError.io("\(path): __metadata__ must map names to strings")
                }
                guard Set(entries.map(\.0)).count == entries.count else {
                    throw SmallNetError.io("\(path): __metadata__ names a key twice")
                }
                seenMetadata = true
                continue
            }
            guard let dtype = value["dtype"]?.stringValue, let size = dtypeSizes[dtype] else {
                throw SmallNetError.io("\(path): tensor \(name) has no known dtype")
            }
            guard let dims = value["shape"]?.arrayValue, let offsets = value["data_offsets"]?.arrayValue,
                  offsets.count == 2, let start = offsets[0].intValue, let end = offsets[1].intValue,
                  0 <= start, start <= end, end <= bodySize else {
                throw SmallNetError.io("\(path): tensor \(name) needs a shape and data_offsets [start, end] inside the data")
            }
            var shape: [Int] = [], count = 1
            for dim in dims {
                guard let d = dim.intValue, d >= 0 else {
                    throw SmallNetError.io("\(path): tensor \(name) has a shape entry that is not a non-negative integer: \(dim.serialized())")
                }
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, product <= bodySize else { throw SmallNetError.io("\(path): tensor \(name) is larger than the file") }
                shape.append(d)
                count = product
            }
            guard count * size == end - start else {
                throw SmallNetError.io("\(path): tensor \(name) of shape \(shape) and dtype \(dtype) needs \(count * size) bytes, its range holds \(end - start)")
            }
            layout[name] = TensorEntry(dtype: dtype, shape: shape, start: start, end: end)
        }
        var covered = 0
        for entry in layout.values.sorted(by: { ($0.start, $0.end) < ($1.start, $1.end) }) {
            guard entry.start == covered else {
                throw SmallNetError.io("\(path): tensor byte ranges \(entry.start < covered ? "overlap" : "leave a gap") at byte \(Swift.min(entry.start, covered))")
            }
            covered = entry.end
        }
        guard covered == bodySize else {
            throw SmallNetError.io("\(path): \(bodySize - covered) bytes after the last tensor")
        }
        return layout
    }

    /// The largest counter value kept: the largest Float below 2^63, so it converts back to Int64.
    public static let largestCounter = Float(sign: .plus, exponent: 63, significand: 1).nextDown

    public static func isCounter(_ name: String) -> Bool { name.hasSuffix("num_batches_tracked") }

    private static func metadataValue(_ header: JSON, _ key: String) -> String? {
        header["__metadata__"]?[key]?.stringValue
    }

    private static func parseHeader(_ data: [UInt8], name path: String) throws -> (header: JSON, bodyStart: Int) {
        if data.count >= 2 && data[0] == 0x1f && data[1] == 0x8b {
            throw SmallNetError.io("\(path): gzip-compressed; only plain .safetensors files are read")
        }
        guard data.count >= 8 else { throw SmallNetError.io("\(path): too short for a safetensors file") }
        var size = 0
        for i in 0..<8 { size |= Int(data[i]) << (8 * i) }
        guard size >= 2, size <= data.count - 8, size <= 100_000_000 else {
            throw SmallNetError.io("\(path): bad safetensors header length \(size)")
        }
        let header: JSON
        do { header = try JSON.parse(Array(data[8..<(8 + size)])) } catch let e as SmallNetError {
            throw SmallNetError.io("\(path): \(e.message)")
        }
        return (header, 8 + size)
    }
}
