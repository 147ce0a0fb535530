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
                withUnsafeBytes(of: Int64(tensor.data[0]).littleEndian) { payload.append(contentsOf: $0) }
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
        try load(bytes: try readFileDecompressing(path, limit: 1 << 32), name: path)
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
        let expected = stateTensors(model)
        guard case .object(let entries) = header else { throw SmallNetError.io("\(path): header is not an object") }
        for (name, _) in entries where name != "__metadata__" && !expected.contains(where: { $0.name == name }) {
            throw SmallNetError.io("\(path): unexpected tensor \(name) for this architecture")
        }
        for (name, tensor) in expected {
            guard let entry = header[name] else { throw SmallNetError.io("\(path): tensor \(name) is missing") }
            let shape = entry["shape"]?.arrayValue?.compactMap(\.intValue)
            guard shape == tensor.shape else {
                throw SmallNetError.io("\(path): tensor \(name) has shape \(shape ?? []), the architecture needs \(tensor.shape)")
            }
            guard let offsets = entry["data_offsets"]?.arrayValue?.compactMap(\.intValue), offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1], bodyStart + offsets[1] <= data.count else {
                throw SmallNetError.io("\(path): tensor \(name) has bad data offsets")
            }
            let bytes = offsets[1] - offsets[0], at = bodyStart + offsets[0]
            switch entry["dtype"]?.stringValue {
            case "F32" where bytes == tensor.count * 4:
                data.withUnsafeBytes { raw in
                    for i in 0..<tensor.count {
                        tensor.data[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 4 * i, as: UInt32.self)))
                    }
                }
            case "I64" where bytes == tensor.count * 8:
                data.withUnsafeBytes { raw in
                    for i in 0..<tensor.count {
                        tensor.data[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at + 8 * i, as: Int64.self)))
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
        let (header, _) = try parseHeader(try readFileDecompressing(path, limit: 1 << 32), name: path)
        guard case .object(let members)? = header["__metadata__"] else { return [] }
        return members.compactMap { key, value in value.stringValue.map { (key, $0) } }
    }

    /// Parameters and buffers in PyTorch state_dict order: per layer, parameters then buffers.
    static func stateTensors(_ model: Sequential) -> [(name: String, tensor: Tensor)] {
        model.layers.enumerated().flatMap { i, layer in
            layer.parameters.map { ("\(i).\($0.name)", $0.value) } + layer.buffers.map { ("\(i).\($0.name)", $0.tensor) }
        }
    }

    static func isCounter(_ name: String) -> Bool { name.hasSuffix("num_batches_tracked") }

    private static func metadataValue(_ header: JSON, _ key: String) -> String? {
        header["__metadata__"]?[key]?.stringValue
    }

    private static func parseHeader(_ data: [UInt8], name path: String) throws -> (header: JSON, bodyStart: Int) {
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
