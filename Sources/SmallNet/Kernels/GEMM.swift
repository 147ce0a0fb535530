// Single-precision matrix products: a register-blocked AVX-512 micro-kernel, split over threads.

/// Rows of C computed per micro-kernel call.
let gemmMR = 8
/// Columns of C computed per micro-kernel call (two 16-float vectors).
let gemmNR = 32
/// Depth of one K block: a 32×256 panel of B (32 KiB) stays in L1 across the row tiles.
let gemmKC = 256

/// C = A·B, or C += A·B when `accumulate`.
///
/// Shape: A (M, K) row-major with row stride `lda`; B (K, N) row-major with row stride `ldb`;
/// C (M, N) row-major with row stride `ldc`.
///
/// Both operands are read in place (no packing): the micro-kernel broadcasts A elements from
/// 8 rows and loads 32 contiguous floats of one B row per step. Work is split over the pool by
/// column panels (or row tiles when there are few panels); each C element is always summed in
/// the same order, so the result does not depend on the number of threads.
func gemm(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool, pool: ThreadPool?
) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    let panels = (n + gemmNR - 1) / gemmNR
    let tiles = (m + gemmMR - 1) / gemmMR
    let threads = pool.map { m * n * k >= 1 << 17 ? $0.threadCount : 1 } ?? 1
    guard let pool, threads > 1 else {
        gemmBlock(rows: 0..<tiles, panels: 0..<panels, m: m, n: n, k: k,
                  a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
        return
    }
    let splitPanels = panels >= threads || panels >= tiles
    let units = splitPanels ? panels : tiles
    let parts = Swift.min(threads, units)
    pool.run(parts: parts) { t in
        let lo = units * t / parts, hi = units * (t + 1) / parts
        gemmBlock(rows: splitPanels ? 0..<tiles : lo..<hi, panels: splitPanels ? lo..<hi : 0..<panels,
                  m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
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

/// C = A·Bᵀ (or +=), with B stored as (N, K) row-major: transposes B into scratch, then `gemm`.
func gemmTransposedB(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool, pool: ThreadPool?
) {
    let bt = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
    defer { bt.deallocate() }
    transpose(rows: n, cols: k, src: b, lds: ldb, dst: bt, ldd: n)
    gemm(m: m, n: n, k: k, a: a, lda: lda, b: bt, ldb: n, c: c, ldc: ldc, accumulate: accumulate, pool: pool)
}

/// dst (cols, rows) = srcᵀ, with src (rows, cols); 16×16 blocks keep both sides in cache.
func transpose(rows: Int, cols: Int, src: UnsafePointer<Float>, lds: Int,
               dst: UnsafeMutablePointer<Float>, ldd: Int) {
    let block = 16
    var i0 = 0
    while i0 < rows {
        let i1 = Swift.min(i0 + block, rows)
        var j0 = 0
        while j0 < cols {
            let j1 = Swift.min(j0 + block, cols)
            for i in i0..<i1 {
                let s = src + i * lds
                for j in j0..<j1 { dst[j * ldd + i] = s[j] }
            }
            j0 = j1
        }
        i0 = i1
    }
}

/// One thread's share: the given row tiles × column panels, over all of K in `gemmKC` blocks.
private func gemmBlock(
    rows: Range<Int>, panels: Range<Int>, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    accumulate: Bool
) {
    // Scratch for partial tiles: a zero-padded B panel and A tile, and a C tile.
    let bPad = UnsafeMutablePointer<Float>.allocate(capacity: gemmKC * gemmNR)
    let aPad = UnsafeMutablePointer<Float>.allocate(capacity: gemmMR * gemmKC)
    let cTile = UnsafeMutablePointer<Float>.allocate(capacity: gemmMR * gemmNR)
    defer { bPad.deallocate(); aPad.deallocate(); cTile.deallocate() }

    var p0 = 0
    while p0 < k {
        let kc = Swift.min(gemmKC, k - p0)
        let add = accumulate || p0 > 0
        for panel in panels {
            let j0 = panel * gemmNR
            let nc = Swift.min(gemmNR, n - j0)
            var bPanel = b + p0 * ldb + j0
            var bStride = ldb
            if nc < gemmNR {
                for p in 0..<kc {
                    let dst = bPad + p * gemmNR
                    dst.update(from: bPanel + p * ldb, count: nc)
                    (dst + nc).update(repeating: 0, count: gemmNR - nc)
                }
                bPanel = UnsafePointer(bPad)
                bStride = gemmNR
            }
            for tile in rows {
                let i0 = tile * gemmMR
                let mc = Swift.min(gemmMR, m - i0)
                var aTile = a + i0 * lda + p0
                var aStride = lda
                if mc < gemmMR {
                    for i in 0..<gemmMR {
                        if i < mc { (aPad + i * kc).update(from: aTile + i * lda, count: kc) }
                        else { (aPad + i * kc).update(repeating: 0, count: kc) }
                    }
                    aTile = UnsafePointer(aPad)
                    aStride = kc
                }
                let cOut = c + i0 * ldc + j0
                if mc == gemmMR && nc == gemmNR {
                    microKernel8x32(k: kc, a: aTile, lda: aStride, b: bPanel, ldb: bStride,
                                    c: cOut, ldc: ldc, accumulate: add)
                } else {
                    microKernel8x32(k: kc, a: aTile, lda: aStride, b: bPanel, ldb: bStride,
                                    c: cTile, ldc: gemmNR, accumulate: false)
                    for i in 0..<mc {
                        let src = cTile + i * gemmNR, dst = cOut + i * ldc
                        if add { for j in 0..<nc { dst[j] += src[j] } }
                        else { dst.update(from: src, count: nc) }
                    }
                }
            }
        }
        p0 += kc
    }
}

/// C (8, 32) = A (8, k) · B (k, 32), or += when `accumulate`. 16 vector accumulators.
@inline(__always)
private func microKernel8x32(
    k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    typealias V = SIMD16<Float>
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
    var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
    let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
    let a4 = a + 4 * lda, a5 = a + 5 * lda, a6 = a + 6 * lda, a7 = a + 7 * lda
    var bRow = UnsafeRawPointer(b)
    let bStep = ldb * 4
    for p in 0..<k {
        let b0 = bRow.loadUnaligned(as: V.self)
        let b1 = bRow.loadUnaligned(fromByteOffset: 64, as: V.self)
        bRow += bStep
        var s = V(repeating: a0[p]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
        s = V(repeating: a1[p]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
        s = V(repeating: a2[p]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
        s = V(repeating: a3[p]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
        s = V(repeating: a4[p]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
        s = V(repeating: a5[p]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
        s = V(repeating: a6[p]); c60 = c60.addingProduct(s, b0); c61 = c61.addingProduct(s, b1)
        s = V(repeating: a7[p]); c70 = c70.addingProduct(s, b0); c71 = c71.addingProduct(s, b1)
    }
    @inline(__always) func store(_ row: Int, _ v0: V, _ v1: V) {
        let raw = UnsafeMutableRawPointer(c + row * ldc)
        if accumulate {
            raw.storeBytes(of: raw.loadUnaligned(as: V.self) + v0, as: V.self)
            raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: 64, as: V.self) + v1, toByteOffset: 64, as: V.self)
        } else {
            raw.storeBytes(of: v0, as: V.self)
            raw.storeBytes(of: v1, toByteOffset: 64, as: V.self)
        }
    }
    store(0, c00, c01); store(1, c10, c11); store(2, c20, c21); store(3, c30, c31)
    store(4, c40, c41); store(5, c50, c51); store(6, c60, c61); store(7, c70, c71)
}

/// A description of the compiled kernels, for `smallnet info`.
public enum KernelInfo {
    public static var gemmDescription: String {
        #if arch(x86_64)
        let isa = "x86-64, \(MemoryLayout<SIMD16<Float>>.size * 8)-bit vectors"
        #else
        let isa = "\(MemoryLayout<SIMD16<Float>>.size * 8)-bit vectors"
        #endif
        return "smallnet register-blocked \(gemmMR)×\(gemmNR) SIMD16 micro-kernel (\(isa)), K blocks of \(gemmKC)"
    }
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
