// The vectorised 2×2 max pool against its scalar definition, and the block tail's fused kernels
// against the separate ones, bit for bit, in every variant.
import SmallNetKernels
import XCTest
@testable import SmallNet

final class MaxPool2x2Tests: XCTestCase {
    /// The definition: each window's maximum as Swift.max(Swift.max(a, b), Swift.max(c, d)) and
    /// its position 0 1 / 2 3 (the first maximum in row-major order).
    private func reference(_ x: [Float], height h: Int, width w: Int) -> (y: [Float], codes: [UInt8]) {
        let ho = h / 2, wo = w / 2
        var y: [Float] = [], codes: [UInt8] = []
        for oy in 0..<ho {
            for ox in 0..<wo {
                let corners = [x[2 * oy * w + 2 * ox], x[2 * oy * w + 2 * ox + 1],
                               x[(2 * oy + 1) * w + 2 * ox], x[(2 * oy + 1) * w + 2 * ox + 1]]
                let m = Swift.max(Swift.max(corners[0], corners[1]), Swift.max(corners[2], corners[3]))
                y.append(m)
                codes.append(UInt8(corners.firstIndex { $0 == m }!))
            }
        }
        return (y, codes)
    }

    /// dx of the definition: each g at its window's maximum, 0 everywhere else.
    private func referenceBackward(_ g: [Float], codes: [UInt8], height h: Int, width w: Int) -> [Float] {
        var dx = [Float](repeating: 0, count: h * w)
        let wo = w / 2
        for (index, p) in codes.enumerated() {
            let oy = index / wo, ox = index % wo
            dx[(2 * oy + Int(p) / 2) * w + 2 * ox + Int(p) % 2] = g[index]
        }
        return dx
    }

    func testEveryWidthMatchesTheDefinitionBitForBit() {
        var generator = RandomGenerator(seed: 11)
        // Few distinct values (ties in most windows), both zeros, negatives.
        let palette: [Float] = [-2, -0.0, 0, 0.5, 1, 1, 3]
        for variant in runnableKernelVariants {
            for h in [2, 3, 5] {
                for w in 1...40 {
                    let ho = h / 2, wo = w / 2
                    let x = (0..<(h * w)).map { _ in palette[generator.nextInt(below: palette.count)] }
                    var y = [Float](repeating: .nan, count: ho * wo), codes = [UInt8](repeating: 9, count: ho * wo)
                    variant.maxPool2x2(x, width: w, outHeight: ho, outWidth: wo, output: &y, position: &codes)
                    let expected = reference(x, height: h, width: w)
                    let context = "\(variant.isa) \(h)×\(w)"
                    XCTAssertEqual(y.map(\.bitPattern), expected.y.map(\.bitPattern), context)
                    XCTAssertEqual(codes, expected.codes, context)

                    let g = (0..<(ho * wo)).map { _ in palette[generator.nextInt(below: palette.count)] }
                    var dx = [Float](repeating: .nan, count: h * w)
                    variant.maxPool2x2Backward(g, position: codes, outHeight: ho, outWidth: wo, height: h, width: w,
                                               dInput: &dx)
                    XCTAssertEqual(dx.map(\.bitPattern),
                                   referenceBackward(g, codes: codes, height: h, width: w).map(\.bitPattern), context)
                }
            }
        }
    }

    /// BatchNorm → ReLU → pool forward in one pass gives the separate kernels' maxima and
    /// positions and keeps the x at each maximum; the first backward pass's (Σdz, Σdz·x) from the
    /// pooled planes and those x are the separate kernels' sums: planes with and without a last
    /// partial vector of 16, odd sides, ties and windows whose maximum ReLU zeroes.
    func testBlockTailKernelsGiveTheSeparateKernelsNumbersBitForBit() {
        var generator = RandomGenerator(seed: 5)
        let palette: [Float] = [-2, -0.0, 0, 0.5, 1, 1, 3, 0.25, -0.75]
        for variant in runnableKernelVariants {
            for (h, w) in [(2, 2), (3, 9), (5, 17), (12, 12), (13, 12), (14, 14), (7, 7), (28, 28), (24, 7), (9, 33)] {
                let ho = h / 2, wo = w / 2, plane = h * w, context = "\(variant.isa) \(h)×\(w)"
                let x = (0..<plane).map { i in i % 3 == 0 ? palette[generator.nextInt(below: palette.count)] : generator.nextNormal() }
                let (scale, shift): (Float, Float) = (generator.nextNormal(), generator.nextNormal() * 0.5)
                var z = [Float](repeating: 0, count: plane), relu = z
                variant.planeScaleShift(x, &z, samples: 1, stride: plane, plane: plane, scale: scale, shift: shift)
                variant.reluForward(z, &relu, count: plane)
                var y = [Float](repeating: .nan, count: ho * wo), codes = [UInt8](repeating: 9, count: ho * wo)
                variant.maxPool2x2(relu, width: w, outHeight: ho, outWidth: wo, output: &y, position: &codes)

                var fusedY = [Float](repeating: .nan, count: ho * wo), fusedCodes = [UInt8](repeating: 9, count: ho * wo)
                var kept = [Float](repeating: .nan, count: ho * wo)
                variant.scaleShiftReLUMaxPool2x2(x, width: w, outHeight: ho, outWidth: wo, scale: scale, shift: shift,
                                                 output: &fusedY, position: &fusedCodes, maxInput: &kept)
                XCTAssertEqual(fusedY.map(\.bitPattern), y.map(\.bitPattern), context)
                XCTAssertEqual(fusedCodes, codes, context)
                let atMaxima = codes.indices.map { i in x[(2 * (i / wo) + Int(codes[i]) / 2) * w + 2 * (i % wo) + Int(codes[i]) % 2] }
                XCTAssertEqual(kept.map(\.bitPattern), atMaxima.map(\.bitPattern), context)

                let g = (0..<(ho * wo)).map { _ in generator.nextNormal() }
                var passed = [Float](repeating: 0, count: ho * wo), dz = [Float](repeating: .nan, count: plane)
                variant.reluBackward(y, g, &passed, count: ho * wo)
                variant.maxPool2x2Backward(passed, position: codes, outHeight: ho, outWidth: wo, height: h, width: w, dInput: &dz)
                let expected = variant.planeGradientSums(dz, x, samples: 1, stride: plane, plane: plane)
                let sums = variant.pooledReLUGradientSums(g, pooled: y, position: codes, maxInput: kept, outHeight: ho,
                                                          outWidth: wo, height: h, width: w)
                XCTAssertEqual(sums.0.bitPattern, expected.0.bitPattern, "Σdz, \(context)")
                XCTAssertEqual(sums.1.bitPattern, expected.1.bitPattern, "Σdz·x, \(context)")
            }
        }
    }
}
