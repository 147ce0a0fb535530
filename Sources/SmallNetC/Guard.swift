// The shim's plumbing: thread-local error messages, status codes, live-handle registry, checks.
import CSmallNetABI
import SmallNet
#if canImport(Glibc)
import Glibc
#endif

// MARK: Errors

/// The thread-local message of the last failing call (a strdup'ed C string).
private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

func setLastError(_ message: String) {
    let previous = pthread_getspecific(errorKey)
    pthread_setspecific(errorKey, strdup(message))
    free(previous)
}

func lastErrorPointer() -> UnsafePointer<CChar> {
    if let p = pthread_getspecific(errorKey) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
    return emptyString
}

private let emptyString: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

func status(for error: SmallNetError) -> sn_status {
    switch error {
    case .invalidArgument: return SN_ERR_INVALID_ARGUMENT
    case .shapeMismatch: return SN_ERR_SHAPE_MISMATCH
    case .outOfMemory: return SN_ERR_OUT_OF_MEMORY
    case .io: return SN_ERR_IO
    case .badState: return SN_ERR_BAD_STATE
    case .notFound: return SN_ERR_NOT_FOUND
    case .diverged: return SN_ERR_DIVERGED
    }
}

/// Runs `body`; a thrown error becomes its status code and this thread's last error message.
func guarded(_ body: () throws -> Void) -> sn_status {
    do {
        try body()
        return SN_OK
    } catch let error as SmallNetError {
        setLastError(error.message)
        return status(for: error)
    } catch {
        setLastError("internal error: \(error)")
        return SN_ERR_INTERNAL
    }
}

func invalid(_ message: String) -> SmallNetError { .invalidArgument(message) }

// MARK: Argument checks

/// A non-NULL pointer, or an `invalidArgument` error naming it.
func nonNull<T>(_ pointer: UnsafePointer<T>?, _ name: String) throws -> UnsafePointer<T> {
    guard let pointer else { throw invalid("\(name) is NULL") }
    return pointer
}

func nonNull<T>(_ pointer: UnsafeMutablePointer<T>?, _ name: String) throws -> UnsafeMutablePointer<T> {
    guard let pointer else { throw invalid("\(name) is NULL") }
    return pointer
}

/// A UTF-8 C string as a Swift string.
func string(_ pointer: UnsafePointer<CChar>?, _ name: String) throws -> String {
    let p = try nonNull(pointer, name)
    guard let s = String(validatingCString: p) else { throw invalid("\(name) is not valid UTF-8") }
    return s
}

/// The product of sizes, or an `outOfMemory` error when it overflows or is absurdly large.
func product(_ factors: Int...) throws -> Int {
    var n = 1
    for f in factors {
        guard f >= 0 else { throw invalid("negative size \(f)") }
        let (r, overflow) = n.multipliedReportingOverflow(by: f)
        guard !overflow, r <= 1 << 40 else { throw SmallNetError.outOfMemory("size \(factors) is too large") }
        n = r
    }
    return n
}

/// A size_t from C as an Int.
func size(_ value: Int, _ name: String) throws -> Int {
    guard value >= 0 else { throw invalid("\(name) is too large") }
    return value
}

/// Checks the struct_size field of an options struct.
func checkStructSize(_ actual: UInt32, _ expected: Int, _ name: String) throws {
    guard Int(actual) == expected else {
        throw invalid("\(name).struct_size is \(actual), expected \(expected) = sizeof(\(name))")
    }
}

/// A C boolean (0 or 1).
func flag(_ value: Int32, _ name: String) throws -> Bool {
    guard value == 0 || value == 1 else { throw invalid("\(name) must be 0 or 1, got \(value)") }
    return value == 1
}

/// Copies a Swift string NUL-terminated into a fixed C char array (truncating at a UTF-8 boundary).
func copyString<T>(_ text: String, into field: inout T) {
    withUnsafeMutableBytes(of: &field) { raw in
        copyString(text, to: raw.baseAddress!.assumingMemoryBound(to: CChar.self), capacity: raw.count)
    }
}

/// Copies a string into `dst` (capacity bytes, ≥ 1), NUL-terminated, truncated at a character boundary.
func copyString(_ text: String, to dst: UnsafeMutablePointer<CChar>, capacity: Int) {
    var bytes = Array(text.utf8)
    if bytes.count > capacity - 1 {
        bytes = Array(bytes[..<(capacity - 1)])
        while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }  // continuation bytes
        if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }              // a dangling lead byte
    }
    for (i, b) in bytes.enumerated() { dst[i] = CChar(bitPattern: b) }
    dst[bytes.count] = 0
}

// MARK: Handles

/// Kinds of opaque handles; a pointer is only accepted as the kind it was created as.
enum HandleKind: String { case model = "sn_model", optimizer = "sn_optimizer", dataset = "sn_dataset" }

/// Every live handle, so that NULL, freed and foreign pointers are refused instead of followed.
private final class Registry: @unchecked Sendable {
    var live: [UnsafeMutableRawPointer: HandleKind] = [:]
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}

private let registry = Registry()

/// Retains `object` and returns it as a new handle of `kind`.
func makeHandle(_ object: AnyObject, _ kind: HandleKind) -> OpaquePointer {
    let raw = Unmanaged.passRetained(object).toOpaque()
    registry.locked { registry.live[raw] = kind }
    return OpaquePointer(raw)
}

/// The object behind a live handle of `kind`.
func object<T: AnyObject>(_ handle: OpaquePointer?, _ kind: HandleKind, _ name: String) throws -> T {
    guard let handle else { throw invalid("\(name) is NULL") }
    let raw = UnsafeMutableRawPointer(handle)
    guard registry.locked({ registry.live[raw] }) == kind else {
        throw invalid("\(name) is not a live \(kind.rawValue) (already freed, or another kind of pointer)")
    }
    return Unmanaged<T>.fromOpaque(raw).takeUnretainedValue()
}

/// Releases a handle; NULL is a no-op, a pointer that is not live is reported, not followed.
func freeHandle(_ handle: OpaquePointer?, _ kind: HandleKind) {
    guard let handle else { return }
    let raw = UnsafeMutableRawPointer(handle)
    let wasLive = registry.locked { registry.live.removeValue(forKey: raw) == kind }
    if wasLive {
        Unmanaged<AnyObject>.fromOpaque(raw).release()
    } else {
        setLastError("\(kind.rawValue)_free: not a live \(kind.rawValue) (double free, or another kind of pointer); ignored")
    }
}

/// Writes a new handle into `*out` (checked non-NULL before any work by the caller).
func store(_ object: AnyObject, _ kind: HandleKind, into out: UnsafeMutablePointer<OpaquePointer?>) {
    out.pointee = makeHandle(object, kind)
}

// MARK: Threads

/// The process-wide thread setting of the C API and its pool.
final class SharedThreads: @unchecked Sendable {
    private var count = ThreadPool.availableProcessors
    private var pool: ThreadPool?
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    static let shared = SharedThreads()

    private init() { pthread_mutex_init(mutex, nil) }

    var threadCount: Int {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return count
    }

    func set(_ n: Int) {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        count = n
        pool = nil
    }

    /// The pool for kernels called through the C API (nil with one thread).
    var currentPool: ThreadPool? {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        if count <= 1 { return nil }
        if let pool, pool.threadCount == count { return pool }
        let fresh = ThreadPool(threads: count)
        pool = fresh
        return fresh
    }
}
