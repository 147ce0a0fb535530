// Splitting a batch over threads in fixed groups, so reductions never depend on the thread count.

/// Number of sample groups for a batch of `n`: fixed by `n` alone.
@inline(__always) func sampleGroupCount(_ n: Int) -> Int { Swift.min(n, 8) }

/// The samples of group `g` of `groups`.
@inline(__always) func sampleGroup(_ g: Int, of groups: Int, batch n: Int) -> Range<Int> {
    (n * g / groups)..<(n * (g + 1) / groups)
}

/// Calls `body(group, samples)` for each fixed group of the batch, spread over the pool.
/// Work that reduces over samples keeps one partial result per group and sums the partials
/// in group order afterwards.
func forEachSampleGroup(batch n: Int, pool: ThreadPool?, _ body: (Int, Range<Int>) -> Void) {
    let groups = sampleGroupCount(n)
    if let pool, groups > 1 {
        pool.run(parts: groups) { g in body(g, sampleGroup(g, of: groups, batch: n)) }
    } else {
        for g in 0..<groups { body(g, sampleGroup(g, of: groups, batch: n)) }
    }
}

/// `forEachSampleGroup`, telling `body` also which of `sampleGroupShares` shares of the work
/// runs the group: scratch indexed by the share is used by one thread at a time, and stays in
/// that thread's cache from one group to the next.
func forEachSampleGroup(batch n: Int, pool: ThreadPool?, _ body: (_ group: Int, _ samples: Range<Int>, _ share: Int) -> Void) {
    let groups = sampleGroupCount(n)
    if let pool, groups > 1 {
        pool.run(parts: groups) { g, share in body(g, sampleGroup(g, of: groups, batch: n), share) }
    } else {
        for g in 0..<groups { body(g, sampleGroup(g, of: groups, batch: n), 0) }
    }
}

/// Calls `body(group, chunk, share)` for consecutive chunks of at most `size` samples in each
/// fixed sample group, in order within the group (`share` as in `forEachSampleGroup`).
func forEachSampleChunk(batch n: Int, size: Int, pool: ThreadPool?,
                        _ body: (_ group: Int, _ chunk: Range<Int>, _ share: Int) -> Void) {
    forEachSampleGroup(batch: n, pool: pool) { group, samples, share in
        var start = samples.lowerBound
        while start < samples.upperBound {
            let end = Swift.min(start + size, samples.upperBound)
            body(group, start..<end, share)
            start = end
        }
    }
}

/// The shares `forEachSampleGroup(batch:pool:_:)` may run groups on.
func sampleGroupShares(batch n: Int, pool: ThreadPool?) -> Int {
    Swift.max(1, Swift.min(sampleGroupCount(n), pool?.threadCount ?? 1))
}

/// Parts per thread of the work that `forEachRange` and `forEachChunk` spread: a thread that
/// starts late (a worker waking up) or runs slower takes fewer of them, where one part per
/// thread would keep the others waiting for it. The work of each index never depends on the
/// split.
let partsPerThread = 4

/// Calls `body(range)` over disjoint ranges covering 0..<count, `partsPerThread` per thread.
func forEachRange(count: Int, pool: ThreadPool?, _ body: (Range<Int>) -> Void) {
    let parts = Swift.min((pool?.threadCount ?? 1) * partsPerThread, count)
    if let pool, parts > 1 {
        pool.run(parts: parts) { t in body((count * t / parts)..<(count * (t + 1) / parts)) }
    } else if count > 0 {
        body(0..<count)
    }
}

/// Calls `body(s·C + c)` for every plane of (N, C, …), in memory order, the samples spread over
/// the pool.
func forEachPlane(samples n: Int, channels c: Int, pool: ThreadPool?, _ body: (Int) -> Void) {
    forEachRange(count: n, pool: pool) { samples in
        for index in (samples.lowerBound * c)..<(samples.upperBound * c) { body(index) }
    }
}

/// Work over fewer values than this runs on the calling thread: waking a worker would cost
/// about what it saves.
let valuesWorthThreads = 1 << 14

/// Calls `body(range)` over disjoint ranges covering 0..<count, `partsPerThread` per thread,
/// each starting on a 16-element boundary; small counts run on the calling thread alone.
func forEachChunk(count: Int, pool: ThreadPool?, _ body: (Range<Int>) -> Void) {
    let parts = count >= valuesWorthThreads ? Swift.min((pool?.threadCount ?? 1) * partsPerThread, count / 16) : 1
    if let pool, parts > 1 {
        pool.run(parts: parts) { t in
            let lo = (count * t / parts) & ~15, hi = t == parts - 1 ? count : (count * (t + 1) / parts) & ~15
            body(lo..<hi)
        }
    } else if count > 0 {
        body(0..<count)
    }
}
