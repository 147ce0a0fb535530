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

/// Reads a whole file, decompressing it on the fly if it is gzip (zlib reads raw files as is).
/// - Throws: `notFound` when the file does not exist, `io` when it cannot be read or its
///   compressed data is truncated or corrupt.
public func readFileDecompressing(_ path: String, limit: Int = 1 << 31) throws -> [UInt8] {
    try requireRegularFile(path)
    guard let file = gzopen(path, "rb") else {
        if access(path, F_OK) != 0 { throw SmallNetError.notFound("\(path): no such file") }
        throw SmallNetError.io("\(path): cannot open (\(String(cString: strerror(errno))))")
    }
    defer { gzclose(file) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
        if n < 0 { throw SmallNetError.io("\(path): \(zlibError(file))") }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<Int(n)])
        if out.count > limit { throw SmallNetError.io("\(path): larger than \(limit) bytes") }
    }
    var code: Int32 = 0
    _ = gzerror(file, &code)
    if code != Z_OK && code != Z_STREAM_END { throw SmallNetError.io("\(path): \(zlibError(file))") }
    return out
}

private func zlibError(_ file: gzFile) -> String {
    var code: Int32 = 0
    guard let message = gzerror(file, &code) else { return "read error" }
    let text = String(cString: message)
    return code == Z_ERRNO ? String(cString: strerror(errno)) : (text.isEmpty ? "read error" : "corrupt or truncated gzip data (\(text))")
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
