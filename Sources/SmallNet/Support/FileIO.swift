// Whole files: atomic writes (unique temporary file, fsync, rename, fsync of the directory) and
// plain reads of regular files, without Foundation.
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Writes `bytes` to `path` so that a reader, a crash or a kill at any moment leaves either the
/// old file or the new one, never a mix: the bytes go to a temporary file of a name no other
/// writer uses, in the same directory, which is synced, renamed over `path`, and the directory
/// synced. Temporary files that killed writers left for `path` are removed first.
/// - Throws: `io` naming the path and the system's reason.
public func writeFileAtomically(_ path: String, bytes: [UInt8]) throws {
    try require(!path.isEmpty, "empty file path")
    let (directory, name) = splitPath(path)
    removeAbandonedTemporaries(directory: directory, name: name)
    let temporary = "\(directory)/\(temporaryPrefix(name))\(getpid())-\(temporaryCounter.add(1, ordering: .relaxed).newValue)"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw SmallNetError.io("\(path): cannot write (\(String(cString: strerror(errno))))") }
    var written = 0
    let ok = bytes.withUnsafeBytes { raw -> Bool in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 { if errno == EINTR { continue }; return false }
            written += n
        }
        return fsync(fd) == 0
    }
    let reason = String(cString: strerror(errno))
    guard close(fd) == 0, ok else {
        unlink(temporary)
        throw SmallNetError.io("\(path): write failed (\(reason))")
    }
    guard rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw SmallNetError.io("\(path): cannot rename the temporary file into place (\(reason))")
    }
    let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dir >= 0 { _ = fsync(dir); close(dir) }
}

/// Writes `text` as UTF-8 to `path` atomically.
public func writeTextFile(_ path: String, _ text: String) throws {
    try writeFileAtomically(path, bytes: Array(text.utf8))
}

/// Reads a whole regular file as it is (no decompression).
/// - Throws: `notFound` when it does not exist; `io` when it is not a regular file (a
///   directory, a FIFO), cannot be read, or is larger than `limit` bytes.
public func readFile(_ path: String, limit: Int = 1 << 32) throws -> [UInt8] {
    try requireRegularFile(path)
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SmallNetError.io("\(path): cannot open (\(String(cString: strerror(errno))))") }
    defer { close(fd) }
    // A chunk as large as the file says it is (plus a byte that finds the end), at most 1 MiB:
    // small files cost no large zero-filled buffer.
    var info = stat()
    let expected = fstat(fd, &info) == 0 ? Int(clamping: info.st_size) : 0
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: min(1 << 20, max(4096, expected &+ 1)))
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; throw SmallNetError.io("\(path): read failed (\(String(cString: strerror(errno))))") }
        if n == 0 { return out }
        out.append(contentsOf: chunk[0..<n])
        if out.count > limit { throw SmallNetError.io("\(path): larger than \(limit) bytes") }
    }
}

/// Checks that `path` names a regular file (reading a FIFO or a device could block forever).
/// - Throws: `notFound` when nothing is there, `io` for anything but a regular file.
public func requireRegularFile(_ path: String) throws {
    var info = stat()
    guard stat(path, &info) == 0 else {
        if errno == ENOENT { throw SmallNetError.notFound("\(path): no such file") }
        throw SmallNetError.io("\(path): cannot read (\(String(cString: strerror(errno))))")
    }
    let type = info.st_mode & S_IFMT
    guard type == S_IFREG else {
        throw SmallNetError.io("\(path): not a regular file (\(type == S_IFDIR ? "a directory" : "a FIFO, socket or device"))")
    }
}

private let temporaryCounter = Atomic<Int>(0)

/// Temporary files for `name` are `.name.tmp-PID-N`.
private func temporaryPrefix(_ name: String) -> String { ".\(name).tmp-" }

/// (directory, file name) of a path; "." for a bare name.
private func splitPath(_ path: String) -> (String, String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let directory = String(path[..<slash])
    return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
}

/// Removes the temporary files of `name` whose writing process no longer exists.
private func removeAbandonedTemporaries(directory: String, name: String) {
    guard let dir = opendir(directory) else { return }
    defer { closedir(dir) }
    let prefix = temporaryPrefix(name)
    let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!  // a stored field: never nil
    while let entry = readdir(dir) {
        // Read the name in place: readdir packs its entries, so copying a whole `dirent` out
        // could read past the end of its buffer.
        let file = String(cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
        guard file.hasPrefix(prefix), let pid = Int32(file.dropFirst(prefix.count).prefix(while: { $0 != "-" })),
              pid > 0, kill(pid, 0) != 0, errno == ESRCH else { continue }
        unlink("\(directory)/\(file)")
    }
}
