// The machine's fp32 limit: fused multiply-adds from registers only, on every thread.
#if canImport(Glibc)
import Glibc
#endif

/// GFLOP/s of a loop of independent fused multiply-adds that touches no memory, run on every
/// thread of `pool` (or on this thread alone) for about `seconds`: the most this CPU's vector
/// units can do, against which a kernel's or a training step's GFLOP/s are read.
///
/// Each thread keeps 12 independent accumulators of 16 floats (enough chains to cover the FMA
/// latency on two units), so the loop is bound by FMA throughput alone. 2 FLOPs per lane per FMA.
public func fmaPeakGFLOPs(pool: ThreadPool?, seconds: Double) -> Double {
    let threads = pool?.threadCount ?? 1
    let iterations = 1 << 16  // FMAs per chain per call: ≈ 0.5–2 ms
    _ = fmaChains(iterations: 256, seed: 1)  // warm-up
    var calls = 0
    var sink: Float = 0
    let start = monotonicSeconds()
    while monotonicSeconds() - start < seconds {
        if let pool, threads > 1 {
            var partial = [Float](repeating: 0, count: threads)
            partial.withUnsafeMutableBufferPointer { out in
                pool.run(parts: threads) { t in out[t] = fmaChains(iterations: iterations, seed: Float(t + 1)) }
            }
            sink += partial.reduce(0, +)
        } else {
            sink += fmaChains(iterations: iterations, seed: 1)
        }
        calls += 1
    }
    let elapsed = monotonicSeconds() - start
    // `sink` keeps the loop's result alive; it is finite and never NaN, so this never prints.
    if sink.isNaN { print("fma peak: unexpected NaN") }
    let flops = 2.0 * 16 * 12 * Double(iterations) * Double(calls) * Double(threads)
    return flops / elapsed / 1e9
}

/// `iterations` rounds of 12 independent `acc = acc · m + c` on SIMD16<Float>; returns a sum so
/// that the work cannot be dropped. m < 1 keeps every value bounded.
@inline(never)
func fmaChains(iterations: Int, seed: Float) -> Float {
    let m = SIMD16<Float>(repeating: 0.999_999), c = SIMD16<Float>(repeating: 1e-6 * seed)
    var a0 = SIMD16<Float>(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5
    var a6 = a0 + 6, a7 = a0 + 7, a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11
    for _ in 0..<iterations {
        a0 = c.addingProduct(a0, m); a1 = c.addingProduct(a1, m); a2 = c.addingProduct(a2, m)
        a3 = c.addingProduct(a3, m); a4 = c.addingProduct(a4, m); a5 = c.addingProduct(a5, m)
        a6 = c.addingProduct(a6, m); a7 = c.addingProduct(a7, m); a8 = c.addingProduct(a8, m)
        a9 = c.addingProduct(a9, m); a10 = c.addingProduct(a10, m); a11 = c.addingProduct(a11, m)
    }
    let total = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
    return total.sum()
}
