// The machine's fp32 limit: fused multiply-adds from registers only, on every thread.
#if canImport(Glibc)
import Glibc
#endif
import SmallNetKernels

/// GFLOP/s of a loop of independent fused multiply-adds that touches no memory, run on every
/// thread of `pool` (or on this thread alone) for about `seconds`: the most this CPU's vector
/// units can do with the kernel variant in use, against which a kernel's or a training step's
/// GFLOP/s are read. The loop runs in calls of ≈ 0.5–2 ms and the fastest call gives the figure,
/// so that time other processes take from the machine does not lower the limit.
///
/// Each thread keeps 12 independent accumulators of one vector register (enough chains to cover
/// the FMA latency on two units), so the loop is bound by FMA throughput alone. 2 FLOPs per lane
/// per FMA (the baseline variant, without FMA, multiplies then adds: the same 2 FLOPs).
public func fmaPeakGFLOPs(pool: ThreadPool?, seconds: Double) -> Double {
    let threads = pool?.threadCount ?? 1
    let iterations = 1 << 16  // FMAs per chain per call
    _ = fmaChains(iterations: 256, seed: 1)  // warm-up
    var fastest = Double.infinity
    var sink: Float = 0
    let start = monotonicSeconds()
    while monotonicSeconds() - start < seconds || fastest == .infinity {
        let callStart = monotonicSeconds()
        if let pool, threads > 1 {
            var partial = [Float](repeating: 0, count: threads)
            partial.withUnsafeMutableBufferPointer { out in
                pool.run(parts: threads) { t in out[t] = fmaChains(iterations: iterations, seed: Float(t + 1)) }
            }
            sink += partial.reduce(0, +)
        } else {
            sink += fmaChains(iterations: iterations, seed: 1)
        }
        fastest = Swift.min(fastest, monotonicSeconds() - callStart)
    }
    // `sink` keeps the loop's result alive; it is finite and never NaN, so this never prints.
    if sink.isNaN { print("fma peak: unexpected NaN") }
    let flops = 2.0 * Double(kernels.vectorBits / 32) * 12 * Double(iterations) * Double(threads)
    return flops / Swift.max(fastest, 1e-9) / 1e9
}

/// `iterations` rounds of the variant's 12 independent multiply-add chains (`Kernels.fmaChains`).
func fmaChains(iterations: Int, seed: Float) -> Float { kernels.fmaChains(iterations: iterations, seed: seed) }
