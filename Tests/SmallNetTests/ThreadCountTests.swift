// The default thread count (cgroup files, environment values) and the pool's process-wide accounting.
import Dispatch
import XCTest
import Synchronization
@testable import SmallNet

final class ThreadCountTests: XCTestCase {
    func testCgroupV2CPUMax() {
        XCTAssertEqual(ThreadCount.parseCPUMax("150000 100000\n"), 1.5)
        XCTAssertEqual(ThreadCount.parseCPUMax("200000 100000"), 2)
        XCTAssertEqual(ThreadCount.parseCPUMax("  50000   100000  "), 0.5)
        XCTAssertEqual(ThreadCount.parseCPUMax("25000 100000"), 0.25)
        XCTAssertNil(ThreadCount.parseCPUMax("max 100000\n"))
        XCTAssertNil(ThreadCount.parseCPUMax(""))
        XCTAssertNil(ThreadCount.parseCPUMax("150000"))
        XCTAssertNil(ThreadCount.parseCPUMax("abc 100000"))
        XCTAssertNil(ThreadCount.parseCPUMax("150000 0"))
        XCTAssertNil(ThreadCount.parseCPUMax("0 100000"))
        XCTAssertNil(ThreadCount.parseCPUMax("1 2 3"))
    }

    func testCgroupV1Quota() {
        XCTAssertEqual(ThreadCount.parseCFSQuota(quota: "150000\n", period: "100000\n"), 1.5)
        XCTAssertEqual(ThreadCount.parseCFSQuota(quota: "400000", period: "100000"), 4)
        XCTAssertNil(ThreadCount.parseCFSQuota(quota: "-1\n", period: "100000\n"))
        XCTAssertNil(ThreadCount.parseCFSQuota(quota: "x", period: "100000"))
        XCTAssertNil(ThreadCount.parseCFSQuota(quota: "100000", period: ""))
        XCTAssertNil(ThreadCount.parseCFSQuota(quota: "100000", period: "0"))
    }

    func testProcSelfCgroup() {
        let v2 = ThreadCount.parseProcCgroup("0::/user.slice/session-1.scope\n")
        XCTAssertEqual(v2.v2, "/user.slice/session-1.scope")
        XCTAssertNil(v2.v1cpu)
        let v1 = ThreadCount.parseProcCgroup("""
            12:pids:/docker/abc
            4:cpu,cpuacct:/docker/abc
            3:cpuset:/docker/abc
            2:cpuacct:/other
            1:name=systemd:/docker/abc
            0::/
            """)
        XCTAssertEqual(v1.v1cpu, "/docker/abc")
        XCTAssertEqual(v1.v2, "/")
        XCTAssertEqual(ThreadCount.parseProcCgroup("1:cpu:/\n").v1cpu, "/")
        XCTAssertEqual(ThreadCount.parseProcCgroup("1:cpuacct,cpu:/a:b\n").v1cpu, "/a:b")
        let none = ThreadCount.parseProcCgroup("")
        XCTAssertNil(none.v2)
        XCTAssertNil(none.v1cpu)
    }

    func testCPULimit() {
        XCTAssertTrue(ThreadCount.cpuLimit(affinity: 2, quota: nil) == (2, "affinity mask (2 CPUs)"))
        XCTAssertTrue(ThreadCount.cpuLimit(affinity: 1, quota: nil) == (1, "affinity mask (1 CPU)"))
        XCTAssertTrue(ThreadCount.cpuLimit(affinity: 4, quota: 1.5) == (2, "cgroup quota 1.5 CPUs"))
        XCTAssertTrue(ThreadCount.cpuLimit(affinity: 8, quota: 0.2) == (1, "cgroup quota 0.2 CPUs"))
        XCTAssertTrue(ThreadCount.cpuLimit(affinity: 4, quota: 3) == (3, "cgroup quota 3 CPUs"))
        // A quota at or above the mask leaves the mask in charge.
        XCTAssertTrue(ThreadCount.cpuLimit(affinity: 2, quota: 8) == (2, "affinity mask (2 CPUs)"))
        XCTAssertTrue(ThreadCount.cpuLimit(affinity: 2, quota: 1.5) == (2, "affinity mask (2 CPUs)"))
        XCTAssertTrue(ThreadCount.cpuLimit(affinity: 128, quota: nil) == (64, "affinity mask (128 CPUs), capped at 64"))
        let unknown = ThreadCount.cpuLimit(affinity: nil, quota: nil)
        XCTAssertGreaterThanOrEqual(unknown.count, 1)
        XCTAssertEqual(unknown.source, "online processors")
    }

    func testFormatCPUs() {
        XCTAssertEqual(ThreadCount.formatCPUs(1.5), "1.5")
        XCTAssertEqual(ThreadCount.formatCPUs(2), "2")
        XCTAssertEqual(ThreadCount.formatCPUs(1.0 / 3), "0.33")
        XCTAssertEqual(ThreadCount.formatCPUs(0.05), "0.05")
        XCTAssertEqual(ThreadCount.formatCPUs(2.25), "2.25")
    }

    func testEnvironmentValues() {
        for good in ["1", "3", "64", " 5 ", "7\n"] {
            XCTAssertNotNil(ThreadCount.parseCount(good), good)
        }
        XCTAssertEqual(ThreadCount.parseCount(" 5 "), 5)
        for bad in ["", "0", "65", "-1", "abc", "3.5", "2x", "+", "99999999999999999999999"] {
            XCTAssertNil(ThreadCount.parseCount(bad), bad)
        }
    }

    func testPrecedence() {
        let cpus = (count: 2, source: "affinity mask (2 CPUs)")
        func check(_ smallnet: String?, _ omp: String?, _ count: Int, _ source: String,
                   file: StaticString = #filePath, line: UInt = #line) {
            let r = ThreadCount.resolve(cpus: cpus, smallnet: smallnet, omp: omp)
            XCTAssertEqual(r.count, count, file: file, line: line)
            XCTAssertEqual(r.source, source, file: file, line: line)
        }
        check(nil, nil, 2, "affinity mask (2 CPUs)")
        check("3", nil, 3, "SMALLNET_NUM_THREADS=3")
        check("3", "1", 3, "SMALLNET_NUM_THREADS=3")
        check(nil, "1", 1, "OMP_NUM_THREADS=1")
        check("", "1", 1, "OMP_NUM_THREADS=1")  // set but empty counts as unset
        check(nil, "4,2", 4, "OMP_NUM_THREADS=4,2")  // a list: the outer level
        check("0", nil, 2, "affinity mask (2 CPUs); SMALLNET_NUM_THREADS=\"0\" ignored (not a whole number in 1...64)")
        check("65", nil, 2, "affinity mask (2 CPUs); SMALLNET_NUM_THREADS=\"65\" ignored (not a whole number in 1...64)")
        check("abc", "1", 1, "OMP_NUM_THREADS=1; SMALLNET_NUM_THREADS=\"abc\" ignored (not a whole number in 1...64)")
        check(nil, "many", 2, "affinity mask (2 CPUs); OMP_NUM_THREADS=\"many\" ignored (not a whole number in 1...64)")
        check("-2", "0", 2, "affinity mask (2 CPUs); SMALLNET_NUM_THREADS=\"-2\" ignored (not a whole number in 1...64); "
              + "OMP_NUM_THREADS=\"0\" ignored (not a whole number in 1...64)")
    }

    func testThisProcess() {
        let usable = ThreadCount.usableCPUs, chosen = ThreadPool.defaultThreadCount
        XCTAssertTrue((1...64).contains(usable.count))
        XCTAssertTrue((1...64).contains(chosen.count))
        XCTAssertFalse(chosen.source.isEmpty)
        XCTAssertEqual(ThreadPool.availableProcessors, chosen.count)
        if getenv("SMALLNET_NUM_THREADS") == nil && getenv("OMP_NUM_THREADS") == nil {
            XCTAssertEqual(chosen.count, usable.count)
        }
    }

    /// Every part runs exactly once when the pool has more threads than CPUs (shares taken over
    /// by the caller) and when two pools run at once from two threads.
    func testPoolsShareTheCPUs() {
        let parts = 11
        let big = ThreadPool(threads: ThreadCount.usableCPUs.count * 2 + 1)
        let pools = [ThreadPool(threads: 3), big]
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 2 * parts)
        counts.initialize(repeating: 0, count: 2 * parts)
        defer { counts.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 2) { p in
            for _ in 0..<300 { pools[p].run(parts: parts) { counts[p * parts + $0] += 1 } }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: 2 * parts)), [Int](repeating: 300, count: 2 * parts))
    }

    /// Parts go to whichever thread is free: while one thread is held up in a slow part (30 ms),
    /// the other takes the rest. (Dealt out by turns, each of the two threads would run four.)
    func testASlowedThreadTakesFewerParts() {
        let pool = ThreadPool(threads: 2)
        let runner = UnsafeMutablePointer<pthread_t>.allocate(capacity: 8)
        defer { runner.deallocate() }
        for _ in 0..<5 {
            pool.run(parts: 8) { t in
                runner[t] = pthread_self()
                if t == 0 { usleep(30_000) }
            }
            let slow = runner[0], byTheSlowThread = (0..<8).filter { pthread_equal(runner[$0], slow) != 0 }.count
            // A worker that did not wake in time leaves every part to the caller.
            if byTheSlowThread < 8 { XCTAssertLessThanOrEqual(byTheSlowThread, 2) }
        }
    }

    /// Each share starts with the first part of its own block (share s of n: parts
    /// s·P/n..<(s + 1)·P/n), so the same parts of successive runs go to the same thread while the
    /// threads keep pace. Here they keep pace by force: each share holds on in its first part
    /// until the other has begun one too (or 1 s has passed), lest the first to start run its
    /// whole block and take the other's parts before that one claims any.
    func testEachShareStartsWithItsOwnBlock() {
        let pool = ThreadPool(threads: 2)
        let first = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        defer { first.deallocate() }
        for _ in 0..<20 {
            first.initialize(repeating: -1, count: 2)
            let begun = Atomic<Int>(0)
            pool.run(parts: 8) { part, share in
                guard first[share] < 0 else { return }
                first[share] = part
                begun.add(1, ordering: .acquiringAndReleasing)
                let start = monotonicSeconds()
                while begun.load(ordering: .acquiring) < 2 && monotonicSeconds() - start < 1 {}
            }
            XCTAssertEqual(first[0], 0)
            XCTAssertEqual(first[1], 4)
        }
    }

    /// A GEMM on a pool with more threads than CPUs gives the same bits as on one thread.
    func testOversubscribedPoolGivesTheSameBits() {
        let (m, n, k) = (67, 150, 129)
        let a = randomTensor([m, k], seed: 3).values, b = randomTensor([k, n], seed: 4).values
        var c1 = [Float](repeating: 0, count: m * n), c2 = c1
        gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c1, ldc: n, accumulate: false, pool: nil)
        let pool = ThreadPool(threads: ThreadCount.usableCPUs.count + 3)
        for _ in 0..<20 {
            gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c2, ldc: n, accumulate: false, pool: pool)
            XCTAssertEqual(c1, c2)
        }
    }

    /// The process-wide count of busy pool threads goes back to where it was once the pools are
    /// idle (workers of a pool with more threads than CPUs park at once, others after their spin).
    /// A worker woken by the last `run` counts itself busy for a moment when it gets a CPU, finds
    /// no work and parks again, so "idle" means the count stays back for 50 samples 1 ms apart.
    func testBusyCountReturnsWhenIdle() {
        let before = ThreadPool.busyThreads
        do {
            let pool = ThreadPool(threads: ThreadCount.usableCPUs.count + 2)
            for _ in 0..<50 { pool.run(parts: pool.threadCount) { _ in } }
            var settledSamples = 0
            var waited = 0
            while settledSamples < 50 && waited < 10_000 {
                settledSamples = ThreadPool.busyThreads <= before ? settledSamples + 1 : 0
                usleep(1_000)
                waited += 1
            }
            XCTAssertEqual(settledSamples, 50, "idle workers still count as busy")
            XCTAssertEqual(ThreadPool.busyThreads, before)
        }
        XCTAssertEqual(ThreadPool.busyThreads, before)
    }
}
