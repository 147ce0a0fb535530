// Single-precision matrix products: the variant's register-blocked micro-kernel, split over threads.
import SmallNetKernels

/// C = A·B, or C += A·B when `accumulate`.
///
/// Shape: A (M, K) row-major with row stride `lda`; B (K, N) row-major with row stride `ldb`;
/// C (M, N) row-major with row stride `ldc`.
///
/// `variant`'s micro-kernel (`Kernels.gemmBlock`) computes C tile by tile, A read in place and B
/// from packed panels. Work is split over the pool by column panels (or row tiles when there are few
/// panels); each C element is always summed in the same order, so the result does not depend on
/// the number of threads.
func gemm(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool, pool: ThreadPool?, variant: any Kernels.Type = kernels
) {
    gemm(GemmOperands(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate),
         pool: pool, variant: variant)
}

/// C = A·B (or +=) for `operands` (B stored as Bᵀ when `bTransposed`), split over the pool: by
/// column panels when there are enough of them, else by row tiles; with `byRows`, by row tiles
/// whenever each thread gets four or more (each thread then reads only its rows of A and writes
/// whole rows of C: for a batch of samples in A, the rows the thread wrote the layer before).
func gemm(_ operands: GemmOperands, pool: ThreadPool?, variant: any Kernels.Type = kernels, byRows: Bool = false) {
    let m = operands.m, n = operands.n, k = operands.k
    if m == 0 || n == 0 { return }
    if k == 0 {
        if let bias = operands.columnBias {
            for i in 0..<m { (operands.c + i * operands.ldc).update(from: bias, count: n) }
        } else if !operands.accumulate {
            for i in 0..<m { (operands.c + i * operands.ldc).update(repeating: 0, count: n) }
        }
        return
    }
    let tile = variant.gemmTile
    let panels = (n + tile.columns - 1) / tile.columns
    let tiles = variant.gemmRowTileCount(m)
    let threads = pool.map { m * n * k >= 1 << 17 ? $0.threadCount : 1 } ?? 1
    guard let pool, threads > 1 else {
        variant.gemmBlock(operands, rows: 0..<tiles, panels: 0..<panels)
        return
    }
    let splitPanels = byRows && tiles >= 4 * threads ? false : (panels >= threads || panels >= tiles)
    let units = splitPanels ? panels : tiles
    let parts = Swift.min(threads, units)
    pool.run(parts: parts) { t in
        let lo = units * t / parts, hi = units * (t + 1) / parts
        variant.gemmBlock(operands, rows: splitPanels ? 0..<tiles : lo..<hi, panels: splitPanels ? lo..<hi : 0..<panels)
    }
}

/// C = Aᵀ·B (or +=), with A stored as (K, M) row-major: transposes A into scratch, then `gemm`.
func gemmTransposedA(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool, pool: ThreadPool?
) {
    let at = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
    defer { at.deallocate() }
    transpose(rows: k, cols: m, src: a, lds: lda, dst: at, ldd: k)
    gemm(m: m, n: n, k: k, a: at, lda: k, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate, pool: pool)
}

/// C = A·Bᵀ (or +=, or `columnBias` + A·Bᵀ; then `epilogue`), with B stored as (N, K) row-major:
/// `gemm` packing its B panels from Bᵀ (the same numbers as `gemm` on a transposed copy, without
/// the copy).
func gemmTransposedB(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool, columnBias: UnsafePointer<Float>? = nil, epilogue: GemmEpilogue? = nil, pool: ThreadPool?,
    variant: any Kernels.Type = kernels, byRows: Bool = false
) {
    gemm(GemmOperands(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate,
                      bTransposed: true, columnBias: columnBias, epilogue: epilogue), pool: pool, variant: variant,
         byRows: byRows)
}

/// dst (cols, rows) = srcᵀ, with src (rows, cols).
@inline(__always)
func transpose(rows: Int, cols: Int, src: UnsafePointer<Float>, lds: Int, dst: UnsafeMutablePointer<Float>, ldd: Int) {
    kernels.transpose(rows: rows, cols: cols, src: src, lds: lds, dst: dst, ldd: ldd)
}

/// A description of the kernels in use, for `smallnet info`.
public enum KernelInfo {
    /// The variant that runs, e.g. "avx2 (x86-64-v3)", and how it was chosen.
    public static var isaDescription: String {
        let choice = ISAChoice.process
        guard let isa = choice.isa else { return "none: \(choice.problem ?? "")" }
        let how = choice.overridden ? "set by SMALLNET_ISA" : "chosen by CPUID"
        #if SMALLNET_NATIVE
        return "\(isa.rawValue) (\(isa.level), \(how); a host-only build, -march=native)"
        #else
        return "\(isa.rawValue) (\(isa.level), \(how); variants: \(ISA.allCases.map(\.rawValue).joined(separator: ", ")))"
        #endif
    }

    public static var gemmDescription: String {
        let tile = kernels.gemmTile
        return "smallnet register-blocked \(tile.rows)×\(tile.columns) micro-kernel (\(kernels.vectorBits)-bit vectors), "
            + "K blocks of \(tile.depth)"
    }
}

/// GFLOP/s of C = A·B with A (m, k) and B (k, n) over `pool`: the best and the median of
/// products timed one at a time for about `seconds`. On a shared machine the best is the
/// kernel's own speed; the median includes what other processes take from it.
public func gemmGFLOPs(m: Int, n: Int, k: Int, pool: ThreadPool?, seconds: Double) -> (best: Double, median: Double) {
    let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k), b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    for i in 0..<(m * k) { a[i] = Float(i % 7) * 0.1 }
    for i in 0..<(k * n) { b[i] = Float(i % 5) * 0.1 }
    gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n, accumulate: false, pool: pool)
    var times: [Double] = []
    let start = monotonicSeconds()
    while monotonicSeconds() - start < seconds || times.count < 5 {
        let t0 = monotonicSeconds()
        gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n, accumulate: false, pool: pool)
        times.append(monotonicSeconds() - t0)
    }
    times.sort()
    let flops = 2 * Double(m) * Double(n) * Double(k) / 1e9
    return (flops / Swift.max(times[0], 1e-9), flops / Swift.max(times[times.count / 2], 1e-9))
}

/// GFLOP/s of this machine's GEMM on 256×256×256 products over `pool`, measured for `seconds`.
public func gemmPeakGFLOPs(pool: ThreadPool?, seconds: Double) -> Double {
    let n = 256
    let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n), b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
    gemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n, accumulate: false, pool: pool)
    var runs = 0
    let start = monotonicSeconds()
    while monotonicSeconds() - start < seconds {
        for _ in 0..<10 { gemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n, accumulate: false, pool: pool) }
        runs += 10
    }
    return 2 * Double(n * n * n) * Double(runs) / (monotonicSeconds() - start) / 1e9
}
