// The shim's plumbing: thread-local error messages, status codes, live-handle registry, checks.
import CSmallNetABI
import SmallNet
import SmallNetKernels
#if canImport(Glibc)
import Glibc
#endif

// MARK: Errors

/// The key of the thread-local message of the last failing call (a strdup'ed C string), created
/// by `pthread_once` on first use. (Not a lazily initialised global: the Swift runtime's own once
/// is correct but invisible to ThreadSanitizer, which reported two threads' first calls as a race.)
private var errorKeyStorage: pthread_key_t = 0
private var errorKeyOnce: pthread_once_t = 0  // PTHREAD_ONCE_INIT

private var errorKey: pthread_key_t {
    pthread_once(&errorKeyOnce) { pthread_key_create(&errorKeyStorage) { free($0) } }
    return errorKeyStorage
}

func setLastError(_ message: String) {
    let key = errorKey
    let previous = pthread_getspecific(key)
    pthread_setspecific(key, strdup(message))
    free(previous)
}

func lastErrorPointer() -> UnsafePointer<CChar> {
    if let p = pthread_getspecific(errorKey) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
    return UnsafeRawPointer(("" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self)
}

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
/// The handles `body` looks up are this thread's until it returns (see `object`).
///
/// On a CPU that cannot run the engine (see `sn_isa`) it fails with SN_ERR_UNSUPPORTED_CPU
/// before anything built for more than plain x86-64 runs.
func guarded(_ body: () throws -> Void) -> sn_status {
    if let problem = ISAChoice.process.problem {
        setLastError(problem)
        return SN_ERR_UNSUPPORTED_CPU
    }
    let claims = ClaimedHandles.current
    let outer = claims.ids.count
    defer { registry.release(claims.ids[outer...]); claims.ids.removeSubrange(outer...) }
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

/// Checks the struct_size of an options struct that grows by appending fields: any size from
/// `minimumSize` (its first version's) up to this library's `current`. `field` names the
/// struct_size as the caller sees it ("out->struct_size"), `type` the struct.
func checkGrowableSize(_ declared: Int, minimumSize: Int, current: Int, _ field: String, _ type: String) throws {
    guard declared >= minimumSize else {
        throw invalid("\(field) is \(declared), below the smallest \(type) (\(minimumSize) bytes): set \(field) = sizeof(\(type)) first")
    }
    guard declared <= current else {
        throw invalid("\(field) is \(declared), above sizeof(\(type)) = \(current) of this library: set \(field) = sizeof(\(type)) first")
    }
}

/// Reads an options struct that grows by appending fields (its struct_size as for
/// `checkGrowableSize`): only struct_size bytes are read, and a field that does not lie wholly
/// within them keeps its value in `defaults`.
/// - Parameter fieldEnds: where each field appended since the first version ends.
func readGrowable<T>(_ pointer: UnsafePointer<T>, defaults: T, minimumSize: Int, fieldEnds: [Int] = [],
                     _ field: String, _ type: String) throws -> T {
    let declared = Int(UnsafeRawPointer(pointer).load(as: UInt32.self))
    try checkGrowableSize(declared, minimumSize: minimumSize, current: MemoryLayout<T>.size, field, type)
    let usable = fieldEnds.filter { $0 <= declared }.max() ?? minimumSize
    var value = defaults
    withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: usable)) }
    return value
}

/// Writes `value` into a caller's growable options struct whose struct_size the caller set (as
/// for `checkGrowableSize`): no more than struct_size bytes are written, and struct_size keeps
/// the caller's value.
func writeGrowable<T>(_ value: T, to out: UnsafeMutablePointer<T>, minimumSize: Int, _ type: String) throws {
    let declared = Int(UnsafeRawPointer(out).load(as: UInt32.self))
    try checkGrowableSize(declared, minimumSize: minimumSize, current: MemoryLayout<T>.size, "out->struct_size", type)
    var copy = value
    withUnsafeMutableBytes(of: &copy) { bytes in
        bytes.storeBytes(of: UInt32(declared), as: UInt32.self)
        UnsafeMutableRawPointer(out).copyMemory(from: bytes.baseAddress!, byteCount: declared)
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

/// A live handle: its object and kind, and the threads running calls on it: one that may change
/// it (`user`), or any number that only read it (`readers`, one entry per claim).
private final class Entry {
    let object: AnyObject
    let kind: HandleKind
    var user: pthread_t?
    var readers: [pthread_t] = []
    init(_ object: AnyObject, _ kind: HandleKind) { self.object = object; self.kind = kind }
}

/// Every live handle, so that NULL, freed, foreign and wrong-kind pointers are refused instead
/// of followed. A handle is a number that is never given out twice (not an address), so a
/// stale handle can never name a newer object.
private final class Registry: @unchecked Sendable {
    private var live: [UInt: Entry] = [:]
    private var nextID: UInt = 0x5_0000_0000
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    func add(_ object: AnyObject, _ kind: HandleKind) -> UInt {
        locked {
            nextID += 16
            live[nextID] = Entry(object, kind)
            return nextID
        }
    }

    /// The object of handle `id`, claimed for the calling thread: alone (`shared` false: calls
    /// that may change it), or beside other readers (`shared` true: calls that only read it,
    /// such as a dataset several trainings walk at once). `newlyClaimed` is false when this
    /// thread already holds it alone (a call made from inside another call's callback).
    func claim(_ id: UInt, _ kind: HandleKind, _ name: String, shared: Bool) throws -> (object: AnyObject, newlyClaimed: Bool) {
        try locked {
            guard let entry = live[id], entry.kind == kind else {
                throw invalid("\(name) is not a live \(kind.rawValue) (already freed, or another kind of pointer)")
            }
            let me = pthread_self()
            let inUse = SmallNetError.badState("\(name) is in use by a call on another thread: one handle, one call at a time")
            if let user = entry.user {
                guard pthread_equal(user, me) != 0 else { throw inUse }
                return (entry.object, false)
            }
            if shared {
                entry.readers.append(me)
            } else {
                guard entry.readers.allSatisfy({ pthread_equal($0, me) != 0 }) else { throw inUse }
                entry.user = me
            }
            return (entry.object, true)
        }
    }

    /// Ends the calling thread's claims `ids`.
    func release(_ ids: ArraySlice<UInt>) {
        guard !ids.isEmpty else { return }
        let me = pthread_self()
        locked {
            for id in ids {
                guard let entry = live[id] else { continue }
                if let user = entry.user, pthread_equal(user, me) != 0 {
                    entry.user = nil
                } else if let index = entry.readers.firstIndex(where: { pthread_equal($0, me) != 0 }) {
                    entry.readers.remove(at: index)
                }
            }
        }
    }

    /// Removes handle `id` of `kind`; nil when it is not live, of another kind, or in use by another thread.
    func remove(_ id: UInt, _ kind: HandleKind) -> String? {
        locked {
            guard let entry = live[id], entry.kind == kind else {
                return "not a live \(kind.rawValue) (double free, or another kind of pointer)"
            }
            let me = pthread_self()
            if let user = entry.user, pthread_equal(user, me) == 0 {
                return "the \(kind.rawValue) is in use by a call on another thread"
            }
            if entry.readers.contains(where: { pthread_equal($0, me) == 0 }) {
                return "the \(kind.rawValue) is in use by a call on another thread"
            }
            live[id] = nil
            return nil
        }
    }
}

private let registry = Registry()

/// The handles claimed by the calls running on this thread, outermost first.
private final class ClaimedHandles {
    var ids: [UInt] = []

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { Unmanaged<ClaimedHandles>.fromOpaque($0!).release() }
        return key
    }()

    static var current: ClaimedHandles {
        if let p = pthread_getspecific(key) { return Unmanaged<ClaimedHandles>.fromOpaque(p).takeUnretainedValue() }
        let fresh = ClaimedHandles()
        pthread_setspecific(key, Unmanaged.passRetained(fresh).toOpaque())
        return fresh
    }
}

/// Registers `object` as a new handle of `kind`.
func makeHandle(_ object: AnyObject, _ kind: HandleKind) -> OpaquePointer {
    OpaquePointer(bitPattern: registry.add(object, kind))!
}

/// The object behind a live handle of `kind`, claimed by this thread (alone, or beside other
/// readers when `shared`) until the running `guarded` call returns.
/// - Throws: `invalidArgument` for NULL, freed, foreign or wrong-kind handles; `badState` for a
///   handle a call on another thread is using.
func object<T: AnyObject>(_ handle: OpaquePointer?, _ kind: HandleKind, _ name: String, shared: Bool = false) throws -> T {
    guard let handle else { throw invalid("\(name) is NULL") }
    let id = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
    let (found, newlyClaimed) = try registry.claim(id, kind, name, shared: shared)
    if newlyClaimed { ClaimedHandles.current.ids.append(id) }
    guard let object = found as? T else { throw SmallNetError.badState("\(name) holds an object of another type") }
    return object
}

/// Releases a handle; NULL is a no-op. A pointer that is not a live handle of `kind`, or one in
/// use by another thread, is reported through sn_last_error and changes nothing.
func freeHandle(_ handle: OpaquePointer?, _ kind: HandleKind) {
    guard let handle else { return }
    let id = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
    if let problem = registry.remove(id, kind) {
        setLastError("\(kind.rawValue)_free: \(problem); ignored")
    }
}

/// Writes a new handle into `*out` (checked non-NULL before any work by the caller).
func store(_ object: AnyObject, _ kind: HandleKind, into out: UnsafeMutablePointer<OpaquePointer?>) {
    out.pointee = makeHandle(object, kind)
}

// MARK: Threads

/// The C API's threads: the process-wide setting (`sn_set_num_threads`) and the pools the
/// library's calls run on, one per thread count asked for, made once and kept. It starts at the
/// default thread count (`SMALLNET_NUM_THREADS`, `OMP_NUM_THREADS`, else the CPUs this process
/// may use). Calls that find a pool busy (two trainings at once) run on their own thread.
final class SharedThreads: @unchecked Sendable {
    private var count = ThreadPool.defaultThreadCount.count
    private var pools: [Int: ThreadPool] = [:]
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
    }

    /// The pool of the current setting (nil with one thread).
    var pool: ThreadPool? { pool(threads: threadCount) }

    /// The pool of `threads` threads (nil for one).
    func pool(threads: Int) -> ThreadPool? {
        guard threads > 1 else { return nil }
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        if let pool = pools[threads] { return pool }
        let fresh = ThreadPool(threads: threads)
        pools[threads] = fresh
        return fresh
    }
}
