// The IDX format of MNIST-style data sets, raw or gzip-compressed (read through zlib).
import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// An IDX array of unsigned bytes: its dimensions and its data.
public struct IDXArray {
    /// Dimensions, outermost first (e.g. [60000, 28, 28] for images, [60000] for labels).
    public let dimensions: [Int]
    /// The elements, `dimensions.reduce(1, *)` of them.
    public let bytes: [UInt8]
}

/// Reads a whole regular file, decompressing it if it is gzip (one or more gzip members and
/// nothing else; raw files are returned as they are).
/// - Throws: `notFound` when the file does not exist, `io` when it cannot be read, its
///   compressed data is truncated or corrupt, bytes that are not gzip follow it, or it holds
///   more than `limit` bytes.
public func readFileDecompressing(_ path: String, limit: Int = 1 << 31) throws -> [UInt8] {
    let raw = try readFile(path, limit: limit)
    guard raw.count >= 2, raw[0] == 0x1f, raw[1] == 0x8b else { return raw }
    return try gunzip(raw, limit: limit, name: path)
}

/// The concatenated contents of the gzip members that make up `data`.
/// - Throws: `io` for corrupt or truncated data, trailing bytes, or more than `limit` bytes.
func gunzip(_ data: [UInt8], limit: Int, name: String) throws -> [UInt8] {
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    var offset = 0
    // Members follow each other; zero bytes may pad the end, as gzip itself allows.
    while offset < data.count && data[offset...].contains(where: { $0 != 0 }) {
        guard data.count - offset >= 2, data[offset] == 0x1f, data[offset + 1] == 0x8b else {
            throw SmallNetError.io("\(name): \(data.count - offset) bytes that are not gzip data follow the compressed data")
        }
        var stream = z_stream()
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw SmallNetError.io("\(name): cannot start decompressing")
        }
        defer { inflateEnd(&stream) }
        var code = Z_OK
        try data.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + offset)
            stream.avail_in = UInt32(clamping: input.count - offset)
            while code != Z_STREAM_END {
                code = chunk.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = UInt32(buffer.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                guard code == Z_OK || code == Z_STREAM_END, produced > 0 || code == Z_STREAM_END || stream.avail_in > 0 else {
                    let message = stream.msg.map { String(cString: $0) } ?? (code == Z_OK || code == Z_BUF_ERROR ? "truncated" : "error \(code)")
                    throw SmallNetError.io("\(name): corrupt or truncated gzip data (\(message))")
                }
                out.append(contentsOf: chunk[0..<produced])
                if out.count > limit { throw SmallNetError.io("\(name): larger than \(limit) bytes") }
            }
            offset = input.count - Int(stream.avail_in)
        }
    }
    return out
}

/// Parses an IDX file of unsigned bytes (type 0x08).
///
/// Format: two zero bytes, a type byte, a dimension count d, then d big-endian UInt32
/// dimensions, then the data. The data must be exactly as long as the dimensions say.
/// - Throws: `io` naming the file and what is wrong (bad magic, unsupported type, wrong size).
public func readIDX(_ path: String) throws -> IDXArray {
    let data = try readFileDecompressing(path)
    return try parseIDX(data, name: path)
}

/// Parses IDX bytes already in memory; `name` is used in error messages.
public func parseIDX(_ data: [UInt8], name: String) throws -> IDXArray {
    guard data.count >= 4 else { throw SmallNetError.io("\(name): too short for an IDX header (\(data.count) bytes)") }
    guard data[0] == 0, data[1] == 0 else {
        throw SmallNetError.io("\(name): bad IDX magic \(hex(data[0]))\(hex(data[1])) (expected 0000; not an IDX file?)")
    }
    guard data[2] == 0x08 else {
        throw SmallNetError.io("\(name): IDX data type 0x\(hex(data[2])) is not supported (only unsigned bytes, 0x08)")
    }
    let rank = Int(data[3])
    guard rank >= 1 && rank <= 4 else { throw SmallNetError.io("\(name): IDX rank \(rank) is not supported (1 to 4)") }
    let headerSize = 4 + 4 * rank
    guard data.count >= headerSize else { throw SmallNetError.io("\(name): truncated IDX header") }
    var dims: [Int] = []
    var total = 1, bound = 1  // bound: the product of the non-zero dimensions
    for r in 0..<rank {
        let o = 4 + 4 * r
        let d = Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3])
        dims.append(d)
        let (product, overflow) = bound.multipliedReportingOverflow(by: Swift.max(d, 1))
        // No dimension, zero-sized or not, may describe more than the file holds.
        guard !overflow, product <= Swift.max(data.count, 1) else {
            throw SmallNetError.io("\(name): IDX dimensions \(dims) describe more bytes than the file's \(data.count)")
        }
        bound = product
        total *= d
    }
    let payload = data.count - headerSize
    guard payload == total else {
        let what = payload < total ? "truncated" : "has trailing bytes"
        throw SmallNetError.io("\(name): \(what): dimensions \(dims) need \(total) data bytes, found \(payload)")
    }
    return IDXArray(dimensions: dims, bytes: Array(data[headerSize...]))
}

private func hex(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 0xf)]])
}
