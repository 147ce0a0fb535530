// The kernel variants: the choice by CPU features and SMALLNET_ISA, and every variant this CPU
// runs computing what the best one computes (bit for bit with FMA, to rounding without).
import SmallNetKernels
import XCTest
@testable import SmallNet

final class KernelVariantTests: XCTestCase {
    func testChoiceFollowsTheFeatures() {
        let everything = CPUFeatures(bits: .max)
        XCTAssertEqual(ISAChoice(features: everything, request: nil).isa, .avx512)
        XCTAssertEqual(ISAChoice(features: everything, request: "").isa, .avx512)
        XCTAssertEqual(ISAChoice(features: everything, request: "baseline").isa, .baseline)
        XCTAssertTrue(ISAChoice(features: everything, request: "avx2").overridden)

        let haswell = CPUFeatures(bits: ISA.avx2.requiredFeatures)
        XCTAssertEqual(ISAChoice(features: haswell, request: nil).isa, .avx2)
        let refused = ISAChoice(features: haswell, request: "avx512")
        XCTAssertNil(refused.isa)
        XCTAssertTrue(refused.problem?.contains("lacks AVX-512F") == true, refused.problem ?? "")
        XCTAssertTrue(refused.problem?.contains("its best variant is avx2") == true, refused.problem ?? "")

        // AVX2 without the OS saving the YMM registers is not AVX2.
        let noState = CPUFeatures(bits: ISA.avx2.requiredFeatures & ~(1 << 15))  // SMALLNET_CPU_OS_YMM
        XCTAssertEqual(ISAChoice(features: noState, request: nil).isa, .baseline)

        let nehalem = CPUFeatures(bits: ISA.baseline.requiredFeatures)
        XCTAssertEqual(ISAChoice(features: nehalem, request: nil).isa, .baseline)

        let bogus = ISAChoice(features: everything, request: "sse9")
        XCTAssertNil(bogus.isa)
        XCTAssertEqual(bogus.problem, "SMALLNET_ISA=sse9 is not a kernel variant: use avx512, avx2 or baseline (or unset it)")
    }

    func testBelowTheBaselineSaysWhatIsMissing() {
        // Core 2: SSE3, SSSE3, CMPXCHG16B, LAHF; no SSE4.1, SSE4.2, POPCNT.
        let core2 = CPUFeatures(bits: ISA.baseline.requiredFeatures & ~(1 << 2 | 1 << 3 | 1 << 4))
        for request in [nil, "baseline", "avx2"] {
            let choice = ISAChoice(features: core2, request: request)
            XCTAssertNil(choice.isa)
            XCTAssertEqual(choice.problem, "this CPU lacks SSE4.1, SSE4.2, POPCNT: smallnet needs an x86-64-v2 CPU "
                + "(SSE4.2 and POPCNT, Intel Nehalem / AMD Bulldozer or newer)")
        }
    }

    func testTheProcessRunsTheChosenVariant() throws {
        let choice = ISAChoice.process
        let isa = try XCTUnwrap(choice.isa, choice.problem ?? "")
        XCTAssertEqual(kernels.isa, isa)
        XCTAssertEqual(kernelVariant(isa).isa, isa)
        XCTAssertTrue(runnableKernelVariants.contains { $0.isa == isa })
        XCTAssertEqual(runnableKernelVariants.last?.isa, .baseline)
    }

    /// Compares `compute(variant)` for every runnable variant with the best one's: equal with
    /// FMA (or when `exact`), else within 1e-4 of max(1, |x|) (rounding over sums of up to 800 terms).
    private func assertVariantsAgree(_ what: String, exact: Bool = false, _ compute: (any Kernels.Type) -> [Float]) {
        let variants = runnableKernelVariants
        let reference = compute(variants[0])
        for variant in variants.dropFirst() {
            let result = compute(variant)
            if exact || variant.isa != .baseline {
                XCTAssertEqual(result, reference, "\(what): \(variant.isa) differs from \(variants[0].isa)")
            } else {
                XCTAssertEqual(result.count, reference.count)
                let worst = zip(result, reference).map { abs($0 - $1) / Swift.max(1, abs($1)) }.max() ?? 0
                XCTAssertLessThan(worst, 1e-4, "\(what): \(variant.isa)")
            }
        }
    }

    func testGemmAgreesAcrossVariants() {
        let pool = ThreadPool(threads: 2)
        for (m, n, k) in [(1, 1, 1), (6, 16, 7), (8, 32, 5), (9, 33, 257), (64, 10, 784), (13, 70, 300), (50, 130, 513)] {
            let a = randomTensor([m, k], seed: UInt64(m + k)).values, b = randomTensor([k, n], seed: UInt64(n * k)).values
            for threads in [nil, pool] as [ThreadPool?] {
                assertVariantsAgree("gemm \(m)×\(n)×\(k)") { variant in
                    var c = randomTensor([m, n], seed: 5).values
                    gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n, accumulate: true, pool: threads,
                         variant: variant)
                    return c
                }
            }
        }
    }

    func testTransposeMatchesTheDefinition() {
        for (rows, cols) in [(1, 1), (7, 9), (8, 8), (9, 17), (30, 784), (64, 117)] {
            let lds = cols + 3, ldd = rows + 5
            let src = (0..<(rows * lds)).map(Float.init)
            // dst[j, i] = src[i, j]; the padding between rows of dst stays as it was.
            let expected = (0..<(cols * ldd)).map { $0 % ldd < rows ? src[($0 % ldd) * lds + $0 / ldd] : -1 }
            for variant in runnableKernelVariants {
                var dst = [Float](repeating: -1, count: cols * ldd)
                variant.transpose(rows: rows, cols: cols, src: src, lds: lds, dst: &dst, ldd: ldd)
                XCTAssertEqual(dst, expected, "\(variant.isa) \(rows)×\(cols)")
            }
        }
    }

    func testRowDotsAgreeAcrossVariants() {
        for (n, m, k) in [(1, 1, 1), (1, 117, 784), (3, 7, 33), (4, 10, 15)] {
            let x = randomTensor([n, k], seed: UInt64(k)).values, w = randomTensor([m, k], seed: UInt64(m)).values
            let b = randomTensor([m], seed: 9).values
            assertVariantsAgree("row dots \(n)×\(m)×\(k)") { variant in
                var y = [Float](repeating: 0, count: n * m)
                variant.rowDots(x, rows: n, weights: w, outputs: m, depth: k, bias: b, output: &y, ldy: m)
                return y
            }
        }
    }

    func testConvolutionKernelsAgreeAcrossVariants() {
        let g = WindowGeometry(channels: 3, height: 9, width: 11, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1)
        let strided = WindowGeometry(channels: 2, height: 9, width: 11, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 1)
        let image = randomTensor([3, 9, 11], seed: 1).values
        for geometry in [g, strided] {
            assertVariantsAgree("im2col, col2im", exact: true) { variant in
                var col = [Float](repeating: 0, count: geometry.patchSize * geometry.outPlane)
                variant.im2col(geometry, image: image, col: &col, ld: geometry.outPlane)
                var back = [Float](repeating: 1, count: image.count)
                variant.col2im(geometry, col: &col, ld: geometry.outPlane, image: &back)
                return col + back
            }
        }
        let dilated = DilatedWindow(channels: 3, height: 9, width: 11, kernel: 3, stride: 1, padding: 2, dilation: 2)
        assertVariantsAgree("dilated im2col, col2im", exact: true) { variant in
            var col = [Float](repeating: 0, count: dilated.patchSize * dilated.outPlane)
            variant.dilatedIm2col(dilated, image: image, col: &col)
            var back = [Float](repeating: 0, count: image.count)
            variant.dilatedCol2im(dilated, col: col, image: &back)
            return col + back
        }
        // The direct convolution of a 28×28 image, 6 output channels (a partial block of four in
        // the forward), and of a 9×11 image, 7 channels (a last vector of 3 pixels, a partial
        // block of channels in the weight gradient).
        for (h, w, cout) in [(28, 28, 6), (9, 11, 7)] {
            let s = ShiftedPlanes(height: h, width: w, kernel: 3), pixels = h * w
            let picture = randomTensor([h, w], seed: 2).values, weight = randomTensor([cout, 9], seed: 3).values
            let bias = randomTensor([cout], seed: 4).values, dOut = randomTensor([cout * pixels], seed: 5).values
            assertVariantsAgree("direct convolution \(h)×\(w)") { variant in
                var planes = [Float](repeating: 0, count: s.scratchCount)
                variant.fillShiftedPlanes(s, image: picture, planes: &planes)
                var y = [Float](repeating: 0, count: cout * pixels), dWT = [Float](repeating: 0, count: 9 * cout)
                variant.directConvolutionForward(s, planes: planes, weight: weight, bias: bias, outChannels: cout, output: &y)
                var scratch = [Float](repeating: 0, count: s.scratchCount)
                variant.directConvolutionWeightGradient(s, image: picture, scratch: &scratch, dOut: dOut, outChannels: cout,
                                                        dWeightT: &dWT)
                return planes + y + dWT
            }
        }
        // Winograd's transforms and their adjoints on 2 samples: 9×11 (tile rows of 6, one group
        // of eight tiles) and 20×17 (9 tiles, a second, partial group).
        for (h, w) in [(9, 11), (20, 17)] {
            let tiles = WinogradTiles(channels: 3, height: h, width: w), t = 2 * tiles.tilesPerImage
            let ld = WinogradTiles.rowStride(tiles: t), size = 3 * h * w
            let images = randomTensor([2, 3, h, w], seed: 6).values, m = randomTensor([48 * ld], seed: 7).values
            let bias = randomTensor([3], seed: 8).values
            assertVariantsAgree("Winograd transforms \(h)×\(w)", exact: true) { variant in
                var scratch = [Float](repeating: 0, count: tiles.scratchCount(samples: 2))
                var v = [Float](repeating: 0, count: 48 * ld), dm = v, y = [Float](repeating: 0, count: 2 * size), dx = y
                variant.winogradInputTransform(tiles, images: images, samples: 2, imageStride: size, into: &v, ld: ld,
                                               scratch: &scratch)
                variant.winogradOutputTransform(tiles, m: m, ld: ld, samples: 2, bias: bias, output: &y, outputStride: size,
                                                scratch: &scratch)
                variant.winogradOutputGradient(tiles, dOut: images, samples: 2, dOutStride: size, into: &dm, ld: ld,
                                               scratch: &scratch)
                variant.winogradInputGradient(tiles, dv: m, ld: ld, samples: 2, dInput: &dx, dInputStride: size,
                                              scratch: &scratch)
                return v + y + dm + dx
            }
        }
        // The weights' transform and its adjoint on 37 kernels (two vectors of 16 and a tail of 5).
        let kernels = randomTensor([37, 9], seed: 9).values, du = randomTensor([16, 37], seed: 10).values
        assertVariantsAgree("Winograd weight transforms", exact: true) { variant in
            var u = [Float](repeating: 0, count: 16 * 37), dW = randomTensor([37, 9], seed: 11).values
            variant.winogradWeightTransform(kernels, count: 37, into: &u)
            variant.winogradWeightGradientTransform(du, count: 37, into: &dW)
            return u + dW
        }
    }

    /// im2col and col2im with "same" padding, in every variant, against their definitions bit for
    /// bit (col2im adding each pixel's taps in tap order, as the shifted-copy path does): planes
    /// smaller than the kernel, planes narrower or shorter than the padding (on both sides of
    /// `smallPlane`), odd sizes, 3×3 to 7×7 kernels, and a column matrix whose rows hold several
    /// samples (ld > H·W).
    func testSamePaddingIm2colAndCol2imMatchTheirDefinitions() {
        for (h, w, k) in [(7, 7, 3), (14, 14, 3), (1, 1, 3), (2, 3, 5), (5, 4, 3), (3, 9, 7), (31, 33, 3), (40, 40, 3),
                          (1, 8, 5), (8, 1, 5), (2, 1, 7), (1, 1100, 5), (1100, 1, 5), (600, 2, 7)] {
            let p = (k - 1) / 2, channels = 2, plane = h * w, ld = plane + 5
            let g = WindowGeometry(channels: channels, height: h, width: w, kernelHeight: k, kernelWidth: k, stride: 1,
                                   padding: p)
            let image = randomTensor([channels, h, w], seed: UInt64(h * 100 + w)).values
            let dCol = randomTensor([g.patchSize * ld], seed: UInt64(k)).values
            var expectedCol = [Float](repeating: -7, count: g.patchSize * ld), expectedImage = image
            for c in 0..<channels {
                for i in 0..<k {
                    for j in 0..<k {
                        let row = ((c * k + i) * k + j) * ld
                        for y in 0..<h {
                            for x in 0..<w {
                                let sy = y + i - p, sx = x + j - p, inside = sy >= 0 && sy < h && sx >= 0 && sx < w
                                expectedCol[row + y * w + x] = inside ? image[(c * h + sy) * w + sx] : 0
                                if inside { expectedImage[(c * h + sy) * w + sx] += dCol[row + y * w + x] }
                            }
                        }
                    }
                }
            }
            for variant in runnableKernelVariants {
                var col = [Float](repeating: -7, count: g.patchSize * ld), back = image, gradient = dCol
                variant.im2col(g, image: image, col: &col, ld: ld)
                variant.col2im(g, col: &gradient, ld: ld, image: &back)
                XCTAssertEqual(col, expectedCol, "im2col \(h)×\(w), \(k)×\(k), \(variant.isa)")
                XCTAssertEqual(back.map(\.bitPattern), expectedImage.map(\.bitPattern), "col2im \(h)×\(w), \(k)×\(k), \(variant.isa)")
            }
        }
    }

    /// `packedIm2col` of 1–3 samples is `packB` of their im2col matrices side by side, bit for
    /// bit, in every variant: 3×3 to 7×7 kernels, odd planes, a last panel partly past the columns.
    func testPackedIm2colIsThePackedIm2colMatrix() {
        for (h, w, k) in [(7, 7, 3), (14, 14, 3), (5, 4, 3), (9, 8, 7), (9, 11, 5), (31, 33, 3)] {
            for samples in 1...3 {
                let p = (k - 1) / 2, channels = 3, plane = h * w, ld = samples * plane, imageStride = channels * plane + 2
                let g = WindowGeometry(channels: channels, height: h, width: w, kernelHeight: k, kernelWidth: k, stride: 1,
                                       padding: p)
                XCTAssertTrue(g.shiftsWithinPlane && g.inPlane <= WindowGeometry.smallPlane)
                let images = randomTensor([samples * imageStride], seed: UInt64(h * 10 + samples)).values
                for variant in runnableKernelVariants {
                    var col = [Float](repeating: 0, count: g.patchSize * ld)
                    for s in 0..<samples {
                        images.withUnsafeBufferPointer { x in
                            col.withUnsafeMutableBufferPointer { c in
                                variant.im2col(g, image: x.baseAddress! + s * imageStride, col: c.baseAddress! + s * plane, ld: ld)
                            }
                        }
                    }
                    let count = variant.packedBCount(k: g.patchSize, n: ld)
                    var expected = [Float](repeating: .nan, count: count), packed = expected
                    variant.packB(k: g.patchSize, n: ld, b: col, ldb: ld, transposed: false, segment: ld, segmentStride: 0,
                                  into: &expected)
                    variant.packedIm2col(g, images: images, samples: samples, imageStride: imageStride, into: &packed)
                    XCTAssertEqual(packed.map(\.bitPattern), expected.map(\.bitPattern),
                                   "\(h)×\(w), \(k)×\(k), \(samples) samples, \(variant.isa)")
                }
            }
        }
    }

    func testElementwisePoolingNormalizationAndUpdatesAgreeAcrossVariants() {
        let n = 1000 + 7, x = randomTensor([n], seed: 1).values, y = randomTensor([n], seed: 2).values
        assertVariantsAgree("element-wise", exact: true) { variant in
            var out = [Float](repeating: 0, count: n), dx = out, acc = y
            variant.reluForward(x, &out, count: n)
            variant.reluBackward(out, y, &dx, count: n)
            var all = out + dx
            variant.leakyReLUForward(x, &out, count: n, slope: 0.1)
            variant.leakyReLUBackward(x, y, &dx, count: n, slope: 0.1)
            all += out + dx
            variant.tanhBackward(x, y, &dx, count: n); all += dx
            variant.sigmoidBackward(x, y, &dx, count: n); all += dx
            variant.addInPlace(&acc, x, count: n)
            variant.copy(&out, acc, count: n)
            let (s1, s2) = variant.sumAndDot(x, y, count: n), (q1, q2) = variant.sumAndSquares(x, count: n)
            return all + out + [variant.sum(x, count: n), s1, s2, q1, q2]
        }
        // Pooling over a 2×3 batch of 13×14 planes.
        let planes = randomTensor([6, 13, 14], seed: 3).values
        assertVariantsAgree("pooling", exact: true) { variant in
            var out: [Float] = []
            for (k, stride) in [(2, 2), (3, 2)] {
                let ho = (13 - k) / stride + 1, wo = (14 - k) / stride + 1
                var y = [Float](repeating: 0, count: ho * wo), avg = y, position = [UInt8](repeating: 0, count: ho * wo)
                var dx = [Float](repeating: 0, count: 13 * 14)
                if k == 2 {
                    variant.maxPool2x2(planes, width: 14, outHeight: ho, outWidth: wo, output: &y, position: &position)
                    variant.maxPool2x2Backward(y, position: position, outHeight: ho, outWidth: wo, height: 13, width: 14,
                                               dInput: &dx)
                } else {
                    variant.maxPoolPlane(planes, width: 14, kernel: k, stride: stride, outHeight: ho, outWidth: wo, output: &y,
                                         position: &position)
                    variant.maxPoolPlaneBackward(y, position: position, kernel: k, stride: stride, outHeight: ho, outWidth: wo,
                                                 height: 13, width: 14, dInput: &dx)
                }
                variant.avgPoolPlane(planes, width: 14, kernel: k, stride: stride, outHeight: ho, outWidth: wo, scale: 1 / 9,
                                     output: &avg)
                out += y + avg + dx + position.map(Float.init)
                variant.avgPoolPlaneBackward(avg, kernel: k, stride: stride, outHeight: ho, outWidth: wo, height: 13, width: 14,
                                             scale: 1 / 9, dInput: &dx)
                out += dx
            }
            return out
        }
        // BatchNorm: one channel of (2, 3, 13·14) planes, and (7, 5) rows of features.
        let dy = randomTensor([6, 13, 14], seed: 4).values
        assertVariantsAgree("batch normalisation", exact: true) { variant in
            let plane = 13 * 14
            let (t, q) = variant.sumAndSquares(Array(planes[plane...]), count: plane)
            let (gDy, gDyX) = variant.planeGradientSums(dy, planes, samples: 2, stride: 3 * plane, plane: plane)
            var out = [Float](repeating: 0, count: planes.count), dx = out
            variant.planeScaleShift(planes, &out, samples: 2, stride: 3 * plane, plane: plane, scale: 1.5, shift: -0.25)
            variant.planeInputGradient(dy, planes, &dx, samples: 2, stride: 3 * plane, plane: plane, k: 0.7, c1: 0.1, c0: -0.2)
            let f = 5, rows = 7, gamma: [Float] = [1, 2, 3, 4, 5], beta: [Float] = [0, 1, 0, 1, 0]
            let mean: [Float] = [0.1, 0.2, 0.3, 0.4, 0.5], istd: [Float] = [1, 0.5, 2, 1.5, 0.25]
            var sum = [Double](repeating: 0, count: f), squares = sum
            variant.featureSums(planes, rows: rows, features: f, sum: &sum, squares: &squares)
            var normalized = [Float](repeating: 0, count: rows * f), dIn = normalized
            variant.featureNormalize(planes, &normalized, rows: rows, features: f, gamma: gamma, beta: beta, mean: mean,
                                     inverseStd: istd)
            var sumDy = [Float](repeating: 0, count: f), sumDyXh = sumDy
            variant.featureGradientSums(dy, planes, rows: rows, features: f, mean: mean, inverseStd: istd, sumDy: &sumDy,
                                        sumDyXh: &sumDyXh)
            variant.featureInputGradient(dy, planes, &dIn, rows: rows, features: f, gamma: gamma, mean: mean, inverseStd: istd,
                                         sumDy: sumDy, sumDyXh: sumDyXh, batchStatistics: true)
            // Followed by ReLU: on the ReLU output of the scale-shift above (a plane of 182 values,
            // a last 6 one by one).
            var relu = [Float](repeating: 0, count: plane), dReLU = relu
            variant.planeScaleShiftReLU(planes, &relu, count: plane, scale: 1.5, shift: -0.25)
            let (rDy, rDyX) = variant.planeReLUGradientSums(dy, relu: relu, planes, count: plane)
            variant.planeReLUInputGradient(dy, relu: relu, planes, &dReLU, count: plane, k: 0.7, c1: 0.1, c0: -0.2)
            let doubles = (sum + squares).map { Float($0) }
            return doubles + [t, q, gDy, gDyX, rDy, rDyX] + out + dx + normalized + sumDy + sumDyXh + dIn + relu + dReLU
        }
        // The optimizer updates, two steps each.
        let count = 64, g = randomTensor([count], seed: 6).values
        assertVariantsAgree("optimizer updates", exact: true) { variant in
            var p = randomTensor([count], seed: 7).values, b = [Float](repeating: 0, count: count)
            var m = b, v = b, vMax = b, s = b, gAvg = b, mom = b, sums = b
            for first in [true, false] {
                variant.sgdUpdate(SGDStep(learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-4, nesterov: true,
                                          maximize: !first, firstStep: first), &p, g, &b, count: count)
            }
            for maximize in [false, true] {
                variant.adamUpdate(AdamStep(stepSize: 0.01, correction2Sqrt: 0.3, decay: 0.999, weightDecay: 0.01, beta1: 0.9,
                                            beta2: 0.999, eps: 1e-8, decoupled: true, maximize: maximize),
                                   &p, g, &m, &v, &vMax, count: count)
                variant.rmspropUpdate(RMSPropStep(learningRate: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0.1, momentum: 0.5,
                                                  maximize: maximize), &p, g, &s, &gAvg, &mom, count: count)
                variant.adagradUpdate(AdagradStep(rate: 0.01, weightDecay: 0.1, eps: 1e-10, maximize: maximize), &p, g, &sums,
                                      count: count)
            }
            return p + b + m + v + vMax + s + gAvg + mom + sums
        }
    }

    func testDataKernelsAgreeAcrossVariants() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        assertVariantsAgree("pixels and SHA-256", exact: true) { variant in
            var floats = [Float](repeating: 0, count: bytes.count)
            variant.convertBytes(bytes, &floats, count: bytes.count, scale: 1 / 255, shift: -0.5)
            var state: [UInt32] = [1, 2, 3, 4, 5, 6, 7, 8]
            variant.sha256Blocks(&state, bytes, count: bytes.count / 64)
            return floats + state.map { Float($0 >> 8) }
        }
    }

    func testEachVariantsMultiplyAddLoopRuns() {
        for variant in runnableKernelVariants {
            let total = variant.fmaChains(iterations: 100, seed: 1)
            XCTAssertTrue(total.isFinite && total > 0, "\(variant.isa): \(total)")
            XCTAssertEqual(variant.vectorBits, [ISA.avx512: 512, .avx2: 256, .baseline: 128][variant.isa])
        }
    }
}
