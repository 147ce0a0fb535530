// A small pool of persistent worker threads that spin briefly before parking, for sub-millisecond kernels.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Runs one closure on `threadCount` threads at once: the caller plus `threadCount - 1` workers.
///
/// Waking a parked thread costs tens of microseconds on a VM, more than many of our kernels
/// take, so workers spin on an atomic generation counter for up to `PoolState.spinSeconds`
/// (longer than the gaps between the kernels of a training step) before they park on a
/// condition variable. Work is split by the callers into disjoint pieces with a fixed
/// reduction order, so results never depend on the thread count.
///
/// One pool serves one caller at a time. If a second thread calls `run` while the pool is busy,
/// the work runs on the calling thread alone (same results, no parallelism).
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in `run`, the caller included.
    public let threadCount: Int

    private let shared: PoolState
    private var workers: [pthread_t] = []

    /// - Parameter threads: total threads, at least 1 (values above 64 are clamped).
    public init(threads: Int) {
        threadCount = Swift.min(Swift.max(threads, 1), 64)
        shared = PoolState()
        for index in 1..<threadCount {
            let box = Unmanaged.passRetained(WorkerStart(state: shared, index: index)).toOpaque()
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.state.workerLoop(index: start.index)
                return nil
            }, box)
            if rc == 0 { workers.append(tid) } else { Unmanaged<WorkerStart>.fromOpaque(box).release() }
        }
        shared.workerCount = workers.count
    }

    deinit {
        shared.shutDown()
        for t in workers { pthread_join(t, nil) }
    }

    /// Calls `body(t)` for every `t` in `0..<parts`, spread over the pool's threads, and returns
    /// when all calls have finished. Part `t` runs on thread `t % threads`.
    public func run(parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 { if parts == 1 { body(0) }; return }
        let n = Swift.min(parts, workers.count + 1)
        guard n > 1, shared.busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for t in 0..<parts { body(t) }
            return
        }
        defer { shared.busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { escaping in
            shared.dispatch { worker in
                var t = worker
                while t < parts { escaping(t); t += n }
            }
        }
    }

    /// The number of processors this process may run on (at least 1).
    public static var availableProcessors: Int {
        Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// State shared by the pool and its workers (the workers never keep the pool itself alive).
private final class PoolState: @unchecked Sendable {
    let generation = Atomic<Int>(0)
    let remaining = Atomic<Int>(0)
    let busy = Atomic<Bool>(false)
    let shuttingDown = Atomic<Bool>(false)
    var job: ((Int) -> Void)?
    var workerCount = 0
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// How long an idle worker spins before it parks. A small CNN's training step calls the
    /// pool some fifty times in 3 ms; measured on the 10K CNN with 2 threads, spinning 5 µs
    /// gave 17,800 images/s, 0.5 ms 24,000.
    static let spinSeconds = 0.002
    /// Spin iterations between two looks at the clock (each iteration is one atomic load).
    static let spinsPerClockRead = 4096

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Publishes `work`, runs `work(0)` on the calling thread, waits for every worker.
    func dispatch(_ work: @escaping (Int) -> Void) {
        job = work
        remaining.store(workerCount, ordering: .relaxed)
        pthread_mutex_lock(mutex)
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
        work(0)
        while remaining.load(ordering: .acquiring) > 0 {}
        job = nil
    }

    /// Sleeps on the condition variable until the generation moves past `seen`.
    private func park(seen: Int) {
        pthread_mutex_lock(mutex)
        while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(condition, mutex) }
        pthread_mutex_unlock(mutex)
    }

    func shutDown() {
        shuttingDown.store(true, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var spinStart = monotonicSeconds()
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins == PoolState.spinsPerClockRead {
                    spins = 0
                    if monotonicSeconds() - spinStart >= PoolState.spinSeconds {
                        park(seen: seen)
                        spinStart = monotonicSeconds()
                    }
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if shuttingDown.load(ordering: .acquiring) { return }
            job?(index)
            remaining.subtract(1, ordering: .releasing)
        }
    }
}

private final class WorkerStart {
    let state: PoolState
    let index: Int
    init(state: PoolState, index: Int) { self.state = state; self.index = index }
}
