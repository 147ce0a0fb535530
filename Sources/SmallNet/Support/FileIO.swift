// Writing whole files atomically (temporary file, then rename), without Foundation.
#if canImport(Glibc)
import Glibc
#endif

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written file.
/// - Throws: `io` naming the path and the system's reason.
public func writeFileAtomically(_ path: String, bytes: [UInt8]) throws {
    try require(!path.isEmpty, "empty file path")
    let temporary = "\(path).tmp\(getpid())"
    guard let file = fopen(temporary, "wb") else {
        throw SmallNetError.io("\(path): cannot write (\(String(cString: strerror(errno))))")
    }
    let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    let flushed = fflush(file) == 0 && fsync(fileno(file)) == 0
    let closed = fclose(file) == 0
    guard written == bytes.count, flushed, closed else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw SmallNetError.io("\(path): write failed (\(reason))")
    }
    guard rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw SmallNetError.io("\(path): cannot rename the temporary file into place (\(reason))")
    }
}

/// Writes `text` as UTF-8 to `path` atomically.
public func writeTextFile(_ path: String, _ text: String) throws {
    try writeFileAtomically(path, bytes: Array(text.utf8))
}
