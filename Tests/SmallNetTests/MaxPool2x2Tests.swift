// The vectorised 2×2 max pool against its scalar definition, bit for bit, in every variant.
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

    /// Every width and height's outputs bit for bit, and nothing written past the plane.
    func testEveryWidthMatchesTheDefinitionBitForBit() {
        let guardCount = 32
        var generator = RandomGenerator(seed: 11)
        // Few distinct values (ties in most windows), both zeros, negatives.
        let palette: [Float] = [-2, -0.0, 0, 0.5, 1, 1, 3]
        for variant in runnableKernelVariants {
            // 14 and 15 rows: rows of 4–7 windows take one vector reaching into the rows below.
            for h in [2, 3, 5, 14, 15] {
                for w in 1...40 {
                    let ho = h / 2, wo = w / 2
                    let x = (0..<(h * w)).map { _ in palette[generator.nextInt(below: palette.count)] }
                    // Outputs followed by `guardCount` values the kernels must leave alone.
                    var y = [Float](repeating: .nan, count: ho * wo + guardCount)
                    var codes = [UInt8](repeating: 9, count: ho * wo + guardCount)
                    variant.maxPool2x2(x, width: w, outHeight: ho, outWidth: wo, output: &y, position: &codes)
                    let expected = reference(x, height: h, width: w)
                    let context = "\(variant.isa) \(h)×\(w)"
                    XCTAssertEqual(y[..<(ho * wo)].map(\.bitPattern), expected.y.map(\.bitPattern), context)
                    XCTAssertEqual(Array(codes[..<(ho * wo)]), expected.codes, context)
                    XCTAssertTrue(y[(ho * wo)...].allSatisfy(\.isNaN) && codes[(ho * wo)...].allSatisfy { $0 == 9 }, context)

                    let g = (0..<(ho * wo)).map { _ in palette[generator.nextInt(below: palette.count)] }
                    var dx = [Float](repeating: .nan, count: h * w + guardCount)
                    variant.maxPool2x2Backward(g, position: codes, outHeight: ho, outWidth: wo, height: h, width: w,
                                               dInput: &dx)
                    XCTAssertEqual(dx[..<(h * w)].map(\.bitPattern),
                                   referenceBackward(g, codes: Array(codes[..<(ho * wo)]), height: h, width: w).map(\.bitPattern), context)
                    XCTAssertTrue(dx[(h * w)...].allSatisfy(\.isNaN), context)
                }
            }
        }
    }
}
