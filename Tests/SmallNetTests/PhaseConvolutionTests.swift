// The first block's kernels on the pooling windows' phases (`PhaseGrids`) and the taps' moments,
// in every variant, against the kernels and sums they replace.
import XCTest
@testable import SmallNet
import SmallNetKernels

final class PhaseConvolutionTests: XCTestCase {
    /// 28×28 (196 windows: 12 vectors and 4), 16×16 (64: whole vectors), 9×11 (20, an odd row and
    /// column outside every window), 13×2 (one window a row).
    private let sizes = [(28, 28), (16, 16), (9, 11), (13, 2)]

    /// One image's shifted planes and phase grids.
    private func grids(_ variant: any Kernels.Type, _ picture: [Float], height h: Int, width w: Int) -> (planes: [Float], grids: [Float]) {
        let s = ShiftedPlanes(height: h, width: w, kernel: 3), g = PhaseGrids(height: h, width: w)
        var planes = [Float](repeating: 0, count: s.scratchCount), grids = [Float](repeating: .nan, count: g.scratchCount)
        variant.fillShiftedPlanes(s, image: picture, planes: &planes)
        variant.fillPhaseGrids(g, image: picture, grids: &grids)
        return (planes, grids)
    }

    /// Five channels' scale and shift, one γ negative.
    private let coefficients: [Float] = [0.7, 0.1, -1.3, 0.4, 1.1, -0.2, 0.05, 0, 2.0, 0.3]

    /// The forward kernel's pooled outputs and their position codes, (C, windows) each.
    private func pooled(_ variant: any Kernels.Type, _ g: PhaseGrids, grids: [Float], weight: [Float]) -> (y: [Float], at: [UInt8]) {
        let cout = coefficients.count / 2
        var y = [Float](repeating: 0, count: cout * g.windows), at = [UInt8](repeating: 9, count: cout * g.windows)
        variant.phaseConvolutionReLUMaxPool(g, grids: grids, weight: weight, outChannels: cout,
                                            coefficients: coefficients, output: &y, position: &at)
        return (y, at)
    }

    /// Grid (a, b) at window (py, px) is input pixel (2py + a − 1, 2px + b − 1), 0 outside the
    /// image; finite past the last window.
    func testPhaseGridsHoldTheirPixels() {
        for variant in runnableKernelVariants {
            for (h, w) in sizes {
                let picture = randomTensor([h, w], seed: 1).values, g = PhaseGrids(height: h, width: w)
                let grids = grids(variant, picture, height: h, width: w).grids
                for v in 0..<g.vectors {
                    for k in 0..<16 {
                        for lane in 0..<16 {
                            let window = 16 * v + lane, a = k / 4, b = k % 4
                            let value = grids[256 * v + 16 * k + lane]
                            guard window < g.windows else {
                                XCTAssert(value.isFinite, "\(variant.isa) \(h)×\(w) grid \(k) past the windows: \(value)")
                                continue
                            }
                            let y = 2 * (window / g.outWidth) + a - 1, x = 2 * (window % g.outWidth) + b - 1
                            let expected = y >= 0 && y < h && x >= 0 && x < w ? picture[y * w + x] : 0
                            XCTAssertEqual(value, expected, "\(variant.isa) \(h)×\(w) grid \(k) window \(window)")
                        }
                    }
                }
            }
        }
    }

    /// The forward kernel gives `directConvolutionForward` then `scaleShiftReLUMaxPool2x2` bit for
    /// bit (the same sums in the same order, the same comparisons), its positions where the output
    /// is above 0 and `PhaseGrids.noGradient` where it is 0.
    func testPhaseForwardIsTheConvolutionThenTheFusedPool() {
        let cout = coefficients.count / 2
        let weight = randomTensor([cout, 9], seed: 2).values
        for variant in runnableKernelVariants {
            for (h, w) in sizes {
                let picture = randomTensor([h, w], seed: 3).values, g = PhaseGrids(height: h, width: w)
                let (planes, grids) = grids(variant, picture, height: h, width: w)
                let (y, at) = pooled(variant, g, grids: grids, weight: weight)
                var x = [Float](repeating: 0, count: cout * h * w + 16)
                variant.directConvolutionForward(ShiftedPlanes(height: h, width: w, kernel: 3), planes: planes,
                                                 weight: weight, bias: nil, outChannels: cout, output: &x)
                for o in 0..<cout {
                    var expected = [Float](repeating: 0, count: g.windows + 16), codes = [UInt8](repeating: 0, count: g.windows + 16)
                    x.withUnsafeBufferPointer { x in
                        variant.scaleShiftReLUMaxPool2x2(x.baseAddress! + o * h * w, width: w, outHeight: g.outHeight,
                                                         outWidth: g.outWidth, scale: coefficients[2 * o],
                                                         shift: coefficients[2 * o + 1], output: &expected, position: &codes)
                    }
                    let range = (o * g.windows)..<((o + 1) * g.windows)
                    XCTAssertEqual(Array(y[range]), Array(expected[0..<g.windows]), "\(variant.isa) \(h)×\(w) channel \(o)")
                    let expectedCodes = (0..<g.windows).map { expected[$0] > 0 ? codes[$0] : PhaseGrids.noGradient }
                    XCTAssertEqual(Array(at[range]), expectedCodes, "\(variant.isa) \(h)×\(w) channel \(o)")
                }
                if (h, w) == (28, 28) { XCTAssert(y.contains(0) && y.contains { $0 > 0 }, "both kinds of window") }
            }
        }
    }

    /// The weight-gradient kernel against the gradient it stands for written out: ReLU's and the
    /// pool's backward into a dense plane, then `directConvolutionWeightGradient`; and Σ of the
    /// gradient ReLU passes.
    func testPhaseWeightGradientIsTheDenseOne() {
        let cout = coefficients.count / 2
        let weight = randomTensor([cout, 9], seed: 4).values
        for variant in runnableKernelVariants {
            for (h, w) in sizes {
                let picture = randomTensor([h, w], seed: 5).values, g = PhaseGrids(height: h, width: w)
                let s = ShiftedPlanes(height: h, width: w, kernel: 3), pixels = h * w
                let (_, grids) = grids(variant, picture, height: h, width: w)
                let (y, at) = pooled(variant, g, grids: grids, weight: weight)
                let dOut = randomTensor([cout * g.windows], seed: 6).values
                var d = [Float](repeating: 0, count: 9 * cout), sums = [Float](repeating: 0, count: cout)
                variant.phaseWeightGradient(g, grids: grids, gradient: dOut, position: at, outChannels: cout,
                                            dWeightT: &d, sums: &sums)
                var dz = [Float](repeating: 0, count: cout * pixels + 16), expectedSums = [Float](repeating: 0, count: cout)
                for o in 0..<cout {
                    let range = (o * g.windows)..<((o + 1) * g.windows)
                    var passed = [Float](repeating: 0, count: g.windows)
                    variant.reluBackward(Array(y[range]), Array(dOut[range]), &passed, count: g.windows)
                    expectedSums[o] = passed.reduce(0, +)
                    // Where the output is 0 ReLU passes nothing, wherever the pool would put it.
                    let codes = at[range].map { $0 == PhaseGrids.noGradient ? 0 : $0 }
                    dz.withUnsafeMutableBufferPointer { dz in
                        variant.maxPool2x2Backward(passed, position: codes, outHeight: g.outHeight, outWidth: g.outWidth,
                                                   height: h, width: w, dInput: dz.baseAddress! + o * pixels)
                    }
                }
                var expected = [Float](repeating: 0, count: 9 * cout), scratch = [Float](repeating: 0, count: s.scratchCount)
                variant.directConvolutionWeightGradient(s, image: picture, scratch: &scratch, dOut: dz, outChannels: cout,
                                                        dWeightT: &expected)
                let scale = expected.map(abs).max() ?? 1
                for (got, want) in zip(d, expected) {
                    XCTAssertEqual(got, want, accuracy: 2e-6 * scale, "\(variant.isa) \(h)×\(w)")
                }
                for (got, want) in zip(sums, expectedSums) { XCTAssertEqual(got, want, accuracy: 1e-5 * Swift.max(1, abs(want))) }
            }
        }
    }

    /// Σ tap_t and Σ tap_t·tap_u against their definitions (Double), P symmetric bit for bit.
    func testTapMomentsAreTheTapsSumsAndProducts() {
        for variant in runnableKernelVariants {
            for (h, w) in sizes {
                let picture = randomTensor([h, w], seed: 7).values, s = ShiftedPlanes(height: h, width: w, kernel: 3)
                let (planes, _) = grids(variant, picture, height: h, width: w)
                var sums = [Float](repeating: 0, count: 9), products = [Float](repeating: 0, count: 81)
                variant.tapMoments(s, planes: planes, sums: &sums, products: &products)
                func tap(_ t: Int, _ q: Int) -> Double {
                    let y = q / w + t / 3 - 1, x = q % w + t % 3 - 1
                    return y >= 0 && y < h && x >= 0 && x < w ? Double(picture[y * w + x]) : 0
                }
                for t in 0..<9 {
                    let sum = (0..<(h * w)).reduce(0.0) { $0 + tap(t, $1) }
                    XCTAssertEqual(Double(sums[t]), sum, accuracy: 1e-4, "\(variant.isa) \(h)×\(w) tap \(t)")
                    for u in 0..<9 {
                        let product = (0..<(h * w)).reduce(0.0) { $0 + tap(t, $1) * tap(u, $1) }
                        XCTAssertEqual(Double(products[9 * t + u]), product, accuracy: 1e-4 * Swift.max(1, product))
                        XCTAssertEqual(products[9 * t + u], products[9 * u + t])
                    }
                }
            }
        }
    }
}
