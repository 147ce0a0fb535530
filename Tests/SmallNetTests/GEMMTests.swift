// GEMM and thread pool: results against a naive triple loop, over edge shapes and thread counts.
import XCTest
@testable import SmallNet
import SmallNetKernels

final class GEMMTests: XCTestCase {
    func naive(_ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ b: [Float]) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { var s: Double = 0; for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }; c[i * n + j] = Float(s) } }
        return c
    }

    func assertClose(_ x: [Float], _ y: [Float], _ what: String) {
        XCTAssertEqual(x.count, y.count)
        let worst = zip(x, y).map { abs($0 - $1) / Swift.max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-4, what)
    }

    func testAllProductsOnEdgeShapes() {
        let pool = ThreadPool(threads: 2)
        for (m, n, k) in [(1, 1, 1), (8, 32, 5), (9, 33, 257), (64, 10, 128), (13, 70, 300), (130, 7, 3), (3, 200, 600),
                          (20, 221, 784), (256, 61, 300)] {
            let a = randomTensor([m, k], seed: UInt64(m * 7 + k)).values
            let b = randomTensor([k, n], seed: UInt64(n * 3 + k)).values
            let expected = naive(m, n, k, a, b)
            for threads in [nil, pool] as [ThreadPool?] {
                for variant in runnableKernelVariants {
                    var c = [Float](repeating: 7, count: m * n)
                    gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n, accumulate: false, pool: threads,
                         variant: variant)
                    assertClose(c, expected, "C = A·B \(m)×\(n)×\(k), \(variant.isa)")
                    gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n, accumulate: true, pool: threads,
                         variant: variant)
                    assertClose(c, expected.map { 2 * $0 }, "C += A·B \(m)×\(n)×\(k), \(variant.isa)")
                }
                // Aᵀ stored (K, M), Bᵀ stored (N, K).
                var at = [Float](repeating: 0, count: m * k), bt = [Float](repeating: 0, count: n * k)
                for i in 0..<m { for p in 0..<k { at[p * m + i] = a[i * k + p] } }
                for p in 0..<k { for j in 0..<n { bt[j * k + p] = b[p * n + j] } }
                var c2 = [Float](repeating: 0, count: m * n)
                gemmTransposedA(m: m, n: n, k: k, a: at, lda: m, b: b, ldb: n, c: &c2, ldc: n, accumulate: false, pool: threads)
                assertClose(c2, expected, "C = Aᵀ·B \(m)×\(n)×\(k)")
                // Bᵀ packed panel by panel: the numbers of `gemm` on B itself, bit for bit.
                for variant in runnableKernelVariants {
                    for accumulate in [false, true] {
                        var direct = [Float](repeating: 0.5, count: m * n), packed = direct
                        gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &direct, ldc: n, accumulate: accumulate,
                             pool: threads, variant: variant)
                        gemmTransposedB(m: m, n: n, k: k, a: a, lda: k, b: bt, ldb: k, c: &packed, ldc: n,
                                        accumulate: accumulate, pool: threads, variant: variant)
                        XCTAssertEqual(packed.map(\.bitPattern), direct.map(\.bitPattern),
                                       "C \(accumulate ? "+" : "")= A·Bᵀ \(m)×\(n)×\(k), \(variant.isa)")
                    }
                    // C = bias + A·Bᵀ: the numbers of C set to the bias row and accumulated into.
                    let bias = (0..<n).map { Float($0 % 5) - 1.75 }
                    var preset = [Float](repeating: 0, count: m * n), biased = [Float](repeating: 9, count: m * n)
                    for i in 0..<m { for j in 0..<n { preset[i * n + j] = bias[j] } }
                    gemmTransposedB(m: m, n: n, k: k, a: a, lda: k, b: bt, ldb: k, c: &preset, ldc: n, accumulate: true,
                                    pool: threads, variant: variant)
                    bias.withUnsafeBufferPointer {
                        gemmTransposedB(m: m, n: n, k: k, a: a, lda: k, b: bt, ldb: k, c: &biased, ldc: n, accumulate: false,
                                        columnBias: $0.baseAddress, pool: threads, variant: variant)
                    }
                    XCTAssertEqual(biased.map(\.bitPattern), preset.map(\.bitPattern), "C = b + A·Bᵀ \(m)×\(n)×\(k), \(variant.isa)")
                    // Split by rows: the same numbers.
                    var byRows = [Float](repeating: 3, count: m * n)
                    bias.withUnsafeBufferPointer {
                        gemmTransposedB(m: m, n: n, k: k, a: a, lda: k, b: bt, ldb: k, c: &byRows, ldc: n, accumulate: false,
                                        columnBias: $0.baseAddress, pool: threads, variant: variant, byRows: true)
                    }
                    XCTAssertEqual(byRows.map(\.bitPattern), preset.map(\.bitPattern), "by rows \(m)×\(n)×\(k), \(variant.isa)")
                }
            }
        }
    }

    /// B packed by `packB` from segments of columns (or, transposed, of K), as Conv2d packs a
    /// chunk of samples' output gradients: the numbers of `gemm` on B itself, bit for bit.
    func testPackedSegmentedBGivesTheSameBits() {
        for (m, n, k, segment) in [(62, 392, 127, 49), (72, 62, 392, 196), (9, 33, 257, 7), (8, 16, 5, 16), (3, 200, 600, 1000)] {
            let a = randomTensor([m, k], seed: UInt64(m + 3 * k)).values
            let b = randomTensor([k, n], seed: UInt64(n + 5 * k)).values
            for variant in runnableKernelVariants {
                for transposed in [false, true] {
                    // B's columns (or Bᵀ's, K) in segments `stride` floats apart, each row `segment` long.
                    let split = transposed ? k : n, other = transposed ? n : k
                    let segments = (split + segment - 1) / segment, stride = other * segment + 5
                    var stored = [Float](repeating: .nan, count: segments * stride)
                    for p in 0..<k {
                        for j in 0..<n {
                            let (along, row) = transposed ? (p, j) : (j, p)
                            stored[(along / segment) * stride + row * segment + along % segment] = b[p * n + j]
                        }
                    }
                    var packed = [Float](repeating: .nan, count: variant.packedBCount(k: k, n: n))
                    stored.withUnsafeBufferPointer { src in
                        packed.withUnsafeMutableBufferPointer { dst in
                            variant.packB(k: k, n: n, b: src.baseAddress!, ldb: segment, transposed: transposed, segment: segment,
                                          segmentStride: stride, into: dst.baseAddress!)
                        }
                    }
                    for accumulate in [false, true] {
                        var direct = [Float](repeating: 0.5, count: m * n), fromPacked = direct
                        gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &direct, ldc: n, accumulate: accumulate,
                             pool: nil, variant: variant)
                        a.withUnsafeBufferPointer { a in
                            packed.withUnsafeBufferPointer { p in
                                fromPacked.withUnsafeMutableBufferPointer { c in
                                    gemm(GemmOperands(m: m, n: n, k: k, a: a.baseAddress!, lda: k, b: p.baseAddress!, ldb: 0,
                                                      c: c.baseAddress!, ldc: n, accumulate: accumulate, bPacked: true),
                                         pool: nil, variant: variant)
                                }
                            }
                        }
                        XCTAssertEqual(fromPacked.map(\.bitPattern), direct.map(\.bitPattern),
                                       "\(m)×\(n)×\(k), segments of \(segment)\(transposed ? ", Bᵀ" : ""), \(variant.isa)")
                    }
                }
            }
        }
    }

    /// Each C element summed over k in order within K blocks of `gemmTile.depth`, block after
    /// block (each block's sum starting from zero, then added to C): fused multiply-adds with FMA,
    /// a rounded product then a sum in the baseline.
    func blockedReference(_ m: Int, _ n: Int, _ k: Int, _ a: [Float], _ b: [Float], c: [Float], accumulate: Bool,
                          depth: Int, fused: Bool) -> [Float] {
        var c = c
        for i in 0..<m {
            for j in 0..<n {
                var p0 = 0
                while p0 < k {
                    var s: Float = 0
                    for p in p0..<Swift.min(p0 + depth, k) {
                        s = fused ? s.addingProduct(a[i * k + p], b[p * n + j]) : s + a[i * k + p] * b[p * n + j]
                    }
                    c[i * n + j] = accumulate || p0 > 0 ? c[i * n + j] + s : s
                    p0 += depth
                }
            }
        }
        return c
    }

    /// The summation order is the kernel's contract (every variant, thread count and tiling
    /// gives the same bits): bit for bit against `blockedReference`, on shapes with partial
    /// tiles and panels, tiles of one row fewer (62, 127, 44 and 256 rows), several K blocks and
    /// more rows than one packed block of A.
    func testSumsInTheDocumentedOrder() {
        let pool = ThreadPool(threads: 2)
        for (m, n, k) in [(1, 1, 1), (7, 17, 300), (62, 392, 270), (130, 33, 513), (127, 49, 558), (200, 8, 40),
                          (44, 40, 396), (256, 221, 784)] {
            let a = randomTensor([m, k], seed: UInt64(m + 3 * k)).values
            let b = randomTensor([k, n], seed: UInt64(n + 5 * k)).values
            let start = randomTensor([m, n], seed: 9).values
            for variant in runnableKernelVariants {
                let depth = variant.gemmTile.depth, fused = variant.isa != .baseline
                for accumulate in [false, true] {
                    let expected = blockedReference(m, n, k, a, b, c: start, accumulate: accumulate, depth: depth,
                                                    fused: fused)
                    for threads in [nil, pool] as [ThreadPool?] {
                        var c = start
                        gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n, accumulate: accumulate,
                             pool: threads, variant: variant)
                        XCTAssertEqual(c, expected, "\(m)×\(n)×\(k) accumulate \(accumulate), \(variant.isa)")
                    }
                }
            }
        }
    }

    func testResultsDoNotDependOnThreadCount() {
        let (m, n, k) = (64, 150, 784)
        let a = randomTensor([m, k], seed: 1).values, b = randomTensor([k, n], seed: 2).values
        var c1 = [Float](repeating: 0, count: m * n), c2 = c1
        gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c1, ldc: n, accumulate: false, pool: nil)
        gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c2, ldc: n, accumulate: false, pool: ThreadPool(threads: 2))
        XCTAssertEqual(c1, c2)
    }

    func testThreadPoolRunsEveryPartOnce() {
        let pool = ThreadPool(threads: 3)
        for parts in [1, 2, 3, 7] {
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: parts)
            counts.initialize(repeating: 0, count: parts)
            for _ in 0..<100 { pool.run(parts: parts) { counts[$0] += 1 } }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: parts)), [Int](repeating: 100, count: parts))
            counts.deallocate()
        }
    }
}
