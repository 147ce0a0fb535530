// A small pool of persistent worker threads that spin briefly before parking, for sub-millisecond kernels.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Pool threads of this process that want a CPU now: callers inside `run`, and workers that are
/// running a share or spinning (not parked). Shared by every pool, so two pools in one process
/// (two trainings at once) see each other.
private let busyPoolThreads = Atomic<Int>(0)

/// Runs one closure on `threadCount` threads at once: the caller plus `threadCount - 1` workers.
///
/// Waking a parked thread costs tens of microseconds on a VM, more than many of our kernels
/// take, so workers spin on an atomic generation counter for up to `PoolState.spinSeconds`
/// (longer than the gaps between the kernels of a training step) before they park on a
/// condition variable. Work is split by the callers into disjoint pieces with a fixed
/// reduction order, so results never depend on the thread count.
///
/// Spinning only pays while every busy thread has a CPU of its own. The busy pool threads of the
/// whole process are counted (`busyPoolThreads`) against the CPUs it may use
/// (`ThreadCount.usableCPUs`, which `taskset` and cgroup quotas lower):
/// - a worker spins only while that count is within the CPUs, and never in a pool with more
///   threads than CPUs; otherwise it parks as soon as it is idle;
/// - `run` wakes parked workers only for CPUs that are free; a worker's share that has not
///   started when the caller has finished its own runs on the caller (same parts, same results);
/// - a caller waiting for its workers spins while the CPUs suffice, else sleeps until the last
///   worker is done.
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
        threadCount = Swift.min(Swift.max(threads, 1), ThreadCount.maximum)
        shared = PoolState(threads: threadCount)
        for index in 1..<threadCount {
            let box = Unmanaged.passRetained(WorkerStart(state: shared, index: index)).toOpaque()
            var tid = pthread_t()
            busyPoolThreads.add(1, ordering: .relaxed)  // a new worker starts out busy
            let rc = pthread_create(&tid, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.state.workerLoop(index: start.index)
                return nil
            }, box)
            if rc == 0 {
                workers.append(tid)
            } else {
                busyPoolThreads.subtract(1, ordering: .relaxed)
                Unmanaged<WorkerStart>.fromOpaque(box).release()
                break  // worker indices must stay 1..<count
            }
        }
        shared.workerCount = workers.count
    }

    deinit {
        shared.shutDown()
        for t in workers { pthread_join(t, nil) }
    }

    /// Calls `body(t)` for every `t` in `0..<parts`, spread over the pool's threads, and returns
    /// when all calls have finished. `n = min(parts, threads)` threads take part: the caller and
    /// the workers that start in time. Share s first takes the parts of its own block (block s of
    /// n consecutive ones), then whatever nobody has taken of the others', until none is left:
    /// from one call to the next the same parts (a batch's samples) run on the same thread while
    /// the threads keep pace, their data still in its core's cache, and a thread slowed down (by
    /// another process on its CPU) takes fewer parts. `body` must therefore depend on `t` alone,
    /// never on the thread that runs it.
    public func run(parts: Int, _ body: (Int) -> Void) {
        run(parts: parts) { part, _ in body(part) }
    }

    /// `run(parts:_:)`, telling `body` also which share of the work calls it, in
    /// 0..<min(parts, threadCount): one thread at a time runs a share's parts, so scratch
    /// indexed by the share is never used by two threads at once.
    public func run(parts: Int, _ body: (_ part: Int, _ share: Int) -> Void) {
        if parts <= 1 { if parts == 1 { body(0, 0) }; return }
        let n = Swift.min(parts, workers.count + 1)
        guard n > 1, shared.busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for t in 0..<parts { body(t, 0) }
            return
        }
        busyPoolThreads.add(1, ordering: .relaxed)
        defer {
            busyPoolThreads.subtract(1, ordering: .relaxed)
            shared.busy.store(false, ordering: .releasing)
        }
        let state = shared
        // Share s's own parts: block s of n. Published by dispatch's releasing stores.
        @inline(__always) func block(_ s: Int) -> Range<Int> { (parts * s / n)..<(parts * (s + 1) / n) }
        for s in 0..<n { state.nextPart[s].store(block(s).lowerBound, ordering: .relaxed) }
        withoutActuallyEscaping(body) { escaping in
            state.dispatch(shares: n) { share in
                // Its own block first, then what is left of the others'.
                for k in 0..<n {
                    let owner = (share + k) % n, end = block(owner).upperBound
                    while true {
                        let t = state.nextPart[owner].add(1, ordering: .relaxed).oldValue
                        guard t < end else { break }
                        escaping(t, share)
                    }
                }
            }
        }
    }

    /// The default thread count (`ThreadCount.default`): `SMALLNET_NUM_THREADS`, else
    /// `OMP_NUM_THREADS`, else the CPUs this process may use; with where it came from.
    public static var defaultThreadCount: (count: Int, source: String) { ThreadCount.default }

    /// The default thread count, `defaultThreadCount.count` (at least 1).
    public static var availableProcessors: Int { ThreadCount.default.count }

    /// Pool threads of this process that are busy now (callers inside `run`, workers running or
    /// spinning); for tests and diagnostics.
    static var busyThreads: Int { busyPoolThreads.load(ordering: .relaxed) }
}

/// State shared by the pool and its workers (the workers never keep the pool itself alive).
private final class PoolState: @unchecked Sendable {
    let generation = Atomic<Int>(0)
    /// Per share, the next part of its block of the current `run` (`run(parts:_:)`) that no
    /// thread has taken.
    let nextPart: InlineArray<64, Atomic<Int>> = InlineArray { _ in Atomic(0) }
    /// Bit `w - 1` is set while worker `w`'s share of the current job has not been taken.
    let unclaimed = Atomic<UInt64>(0)
    let remaining = Atomic<Int>(0)
    let busy = Atomic<Bool>(false)
    let shuttingDown = Atomic<Bool>(false)
    /// Set while the caller sleeps on `finished` waiting for `remaining` to reach 0.
    let callerSleeping = Atomic<Bool>(false)
    var job: ((Int) -> Void)?
    var workerCount = 0
    /// Workers parked on `condition` (guarded by `mutex`).
    var parked = 0
    /// The CPUs this process may use; threads beyond them take turns instead of spinning.
    let cpus = ThreadCount.usableCPUs.count
    /// Whether this pool's threads fit in the CPUs at all (if not, nobody spins).
    let fitsCPUs: Bool
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// How long an idle worker spins before it parks. A small CNN's training step calls the
    /// pool some fifty times in 3 ms; measured on the 10K CNN with 2 threads, spinning 5 µs
    /// gave 17,800 images/s, 0.5 ms 24,000.
    static let spinSeconds = 0.002
    /// Spin iterations between two looks at the clock and the busy count (each iteration is
    /// one atomic load).
    static let spinsPerCheck = 4096

    init(threads: Int) {
        fitsCPUs = threads <= cpus
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        pthread_cond_init(finished, nil)
    }

    deinit {
        pthread_cond_destroy(finished)
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
        finished.deallocate()
    }

    /// Whether a thread of this pool that is busy now may keep its CPU by spinning.
    @inline(__always) private var maySpin: Bool {
        fitsCPUs && busyPoolThreads.load(ordering: .relaxed) <= cpus
    }

    /// Publishes `work` for shares `1..<shares`, runs `work(0)` on the calling thread, takes over
    /// the shares no worker has started, and waits for the rest.
    func dispatch(shares: Int, _ work: @escaping (Int) -> Void) {
        let others = shares - 1
        job = work
        remaining.store(others, ordering: .relaxed)
        unclaimed.store((1 << UInt64(others)) - 1, ordering: .releasing)  // others ≤ 63
        pthread_mutex_lock(mutex)
        generation.add(1, ordering: .releasing)
        // Spinning workers see the generation by themselves; wake parked ones only for free CPUs.
        let free = cpus - busyPoolThreads.load(ordering: .relaxed)
        if parked > 0 && free > 0 {
            if free >= parked { pthread_cond_broadcast(condition) } else { for _ in 0..<free { pthread_cond_signal(condition) } }
        }
        pthread_mutex_unlock(mutex)
        work(0)
        var left = unclaimed.exchange(0, ordering: .acquiring)
        while left != 0 {
            work(left.trailingZeroBitCount + 1)
            left &= left - 1
            remaining.subtract(1, ordering: .relaxed)
        }
        waitForWorkers()
        job = nil
    }

    /// Returns once `remaining` is 0: spins while the CPUs suffice, else sleeps on `finished`
    /// (not counting as busy meanwhile) until the last worker signals it.
    private func waitForWorkers() {
        var spins = 0
        while remaining.load(ordering: .acquiring) > 0 {
            spins += 1
            if spins < PoolState.spinsPerCheck { continue }
            spins = 0
            if maySpin { continue }
            pthread_mutex_lock(mutex)
            busyPoolThreads.subtract(1, ordering: .relaxed)
            callerSleeping.store(true, ordering: .sequentiallyConsistent)
            while remaining.load(ordering: .sequentiallyConsistent) > 0 { pthread_cond_wait(finished, mutex) }
            callerSleeping.store(false, ordering: .relaxed)
            busyPoolThreads.add(1, ordering: .relaxed)
            pthread_mutex_unlock(mutex)
        }
    }

    /// Sleeps on the condition variable until the generation moves past `seen`; the thread
    /// stops counting as busy meanwhile.
    private func park(seen: Int) {
        pthread_mutex_lock(mutex)
        busyPoolThreads.subtract(1, ordering: .relaxed)
        parked += 1
        while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(condition, mutex) }
        parked -= 1
        busyPoolThreads.add(1, ordering: .relaxed)
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
        let mine: UInt64 = 1 << UInt64(index - 1)
        var seen = 0
        while true {
            // Wait for a new job: spin while this process's busy threads fit in its CPUs and
            // for at most spinSeconds, else park (checked at once, then every spinsPerCheck).
            var spins = PoolState.spinsPerCheck - 1
            var spinStart = monotonicSeconds()
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins == PoolState.spinsPerCheck {
                    spins = 0
                    if !maySpin || monotonicSeconds() - spinStart >= PoolState.spinSeconds {
                        park(seen: seen)
                        spinStart = monotonicSeconds()
                    }
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if shuttingDown.load(ordering: .acquiring) {
                busyPoolThreads.subtract(1, ordering: .relaxed)
                return
            }
            // Take this worker's share unless the caller already has.
            guard unclaimed.bitwiseAnd(~mine, ordering: .acquiring).oldValue & mine != 0 else { continue }
            job?(index)
            if remaining.subtract(1, ordering: .sequentiallyConsistent).newValue == 0,
               callerSleeping.load(ordering: .sequentiallyConsistent) {
                pthread_mutex_lock(mutex)
                pthread_cond_signal(finished)
                pthread_mutex_unlock(mutex)
            }
        }
    }
}

private final class WorkerStart {
    let state: PoolState
    let index: Int
    init(state: PoolState, index: Int) { self.state = state; self.index = index }
}
