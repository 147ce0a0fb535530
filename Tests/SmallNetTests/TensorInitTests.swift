// TensorInit: torch.nn.init's functions on one tensor (gains, fans, seeds, distributions, refusals).
import XCTest
@testable import SmallNet

final class TensorInitTests: XCTestCase {
    /// Mean, standard deviation, smallest and largest value of a tensor.
    func stats(_ t: Tensor) -> (mean: Double, std: Double, min: Double, max: Double) {
        let values = (0..<t.count).map { Double(t[$0]) }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        return (mean, variance.squareRoot(), values.min()!, values.max()!)
    }

    func values(_ scheme: TensorInit, _ shape: [Int], seed: UInt64 = 1) throws -> Tensor {
        var g = RandomGenerator(seed: seed)
        return try scheme.values(for: shape, generator: &g)
    }

    func testGainsAreTorchsCalculateGain() {
        // torch.nn.init.calculate_gain's formulas, written out.
        XCTAssertEqual(Nonlinearity.linear.gain, 1)
        XCTAssertEqual(Nonlinearity.sigmoid.gain, 1)
        XCTAssertEqual(Nonlinearity.tanh.gain, 5.0 / 3)
        XCTAssertEqual(Nonlinearity.relu.gain, 2.0.squareRoot())
        XCTAssertEqual(Nonlinearity.selu.gain, 0.75)
        for a: Float in [0, 0.01, 0.2, 1, -0.5] {
            XCTAssertEqual(Nonlinearity.leakyReLU(negativeSlope: a).gain,
                           (2 / (1 + Double(a) * Double(a))).squareRoot(), accuracy: 1e-12, "a = \(a)")
        }
    }

    func testFansOfLinearAndConvShapes() {
        for (shape, fanIn, fanOut) in [([30, 20], 20, 30), ([16, 8, 3, 3], 72, 144), ([4, 2, 5], 10, 20)] {
            let f = Initializers.fans(shape)
            XCTAssertEqual(f.fanIn, fanIn, "\(shape)")
            XCTAssertEqual(f.fanOut, fanOut, "\(shape)")
        }
    }

    func testKaimingStdFollowsModeAndNonlinearity() throws {
        // Linear (300, 400): fan_in 400, fan_out 300; conv (64, 32, 5, 5): fan_in 800, fan_out 1600.
        let cases: [(TensorInit, [Int], Double)] = [
            (.kaimingNormal(), [300, 400], 2.0.squareRoot() / 400.0.squareRoot()),
            (.kaimingNormal(mode: .fanOut, nonlinearity: .relu), [300, 400], 2.0.squareRoot() / 300.0.squareRoot()),
            (.kaimingNormal(nonlinearity: .selu), [64, 32, 5, 5], 0.75 / 800.0.squareRoot()),
            (.kaimingNormal(mode: .fanOut, nonlinearity: .leakyReLU(negativeSlope: 0.2)), [64, 32, 5, 5],
             (2 / 1.04).squareRoot() / 1600.0.squareRoot()),
        ]
        for (scheme, shape, std) in cases {
            let s = stats(try values(scheme, shape))
            XCTAssertEqual(s.std, std, accuracy: 0.015 * std, "\(scheme) \(shape)")
            XCTAssertEqual(s.mean, 0, accuracy: 0.015 * std, "\(scheme) \(shape)")
        }
        // Uniform: within ±gain·√(3 / fan), std bound / √3.
        let bound = 5.0 / 3 * (3 / 1600.0).squareRoot()
        let s = stats(try values(.kaimingUniform(mode: .fanOut, nonlinearity: .tanh), [64, 32, 5, 5]))
        XCTAssertLessThanOrEqual(max(-s.min, s.max), bound)
        XCTAssertGreaterThan(max(-s.min, s.max), 0.99 * bound)
        XCTAssertEqual(s.std, bound / 3.0.squareRoot(), accuracy: 0.015 * s.std)
    }

    func testXavierUniformNormalAndConstant() throws {
        let bound = 2 * (6 / 700.0).squareRoot()
        var s = stats(try values(.xavierUniform(gain: 2), [300, 400]))
        XCTAssertLessThanOrEqual(max(-s.min, s.max), bound)
        XCTAssertEqual(s.std, bound / 3.0.squareRoot(), accuracy: 0.015 * s.std)
        s = stats(try values(.xavierNormal(gain: 0.5), [300, 400]))
        XCTAssertEqual(s.std, 0.5 * (2 / 700.0).squareRoot(), accuracy: 0.015 * s.std)
        s = stats(try values(.uniform(low: -3, high: 5), [100_000]))
        XCTAssertGreaterThanOrEqual(s.min, -3)
        XCTAssertLessThanOrEqual(s.max, 5)
        XCTAssertEqual(s.mean, 1, accuracy: 0.03)
        XCTAssertEqual(s.std, 8 / 12.0.squareRoot(), accuracy: 0.015 * s.std)
        s = stats(try values(.normal(mean: 2, std: 0.5), [100_000]))
        XCTAssertEqual(s.mean, 2, accuracy: 0.01)
        XCTAssertEqual(s.std, 0.5, accuracy: 0.0075)
        s = stats(try values(.constant(-1.5), [7]))
        XCTAssertTrue(s.min == -1.5 && s.max == -1.5)
    }

    func testOrthogonalWithGain() throws {
        let w = try values(.orthogonal(gain: 2), [6, 3, 2, 2])  // (6, 12): orthogonal rows
        for i in 0..<6 {
            for j in 0..<6 {
                var dot = 0.0
                for k in 0..<12 { dot += Double(w[i * 12 + k]) * Double(w[j * 12 + k]) }
                XCTAssertEqual(dot, i == j ? 4 : 0, accuracy: 1e-5, "(\(i), \(j))")
            }
        }
    }

    func testSameSeedSameValues() throws {
        for scheme: TensorInit in [.kaimingNormal(), .kaimingUniform(), .xavierNormal(), .xavierUniform(),
                                   .orthogonal(), .uniform(), .normal()] {
            let a = try values(scheme, [8, 5], seed: 7), b = try values(scheme, [8, 5], seed: 7)
            let c = try values(scheme, [8, 5], seed: 8)
            XCTAssertEqual((0..<40).map { a[$0] }, (0..<40).map { b[$0] }, "\(scheme)")
            XCTAssertNotEqual((0..<40).map { a[$0] }, (0..<40).map { c[$0] }, "\(scheme)")
        }
    }

    func testRefusalsLeaveTheTensorUnchanged() throws {
        let vector = try Tensor(shape: [5], values: [1, 2, 3, 4, 5])
        let matrix = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let refused: [(TensorInit, Tensor, String)] = [
            (.kaimingNormal(), vector, "fewer than 2 dimensions"),
            (.kaimingUniform(), vector, "fewer than 2 dimensions"),
            (.xavierNormal(), vector, "fewer than 2 dimensions"),
            (.xavierUniform(), vector, "fewer than 2 dimensions"),
            (.orthogonal(), vector, "2 or more dimensions"),
            (.kaimingNormal(nonlinearity: .leakyReLU(negativeSlope: .nan)), matrix, "a (the negative slope)"),
            (.xavierUniform(gain: -1), matrix, "gain"),
            (.orthogonal(gain: .infinity), matrix, "gain"),
            (.uniform(low: 1, high: 0), matrix, "low must be ≤ high"),
            (.normal(std: -0.1), matrix, "std"),
            (.normal(mean: .nan), matrix, "mean"),
            (.normal(std: 1e300), matrix, "Float's range"),
            (.constant(.infinity), matrix, "value"),
        ]
        for (scheme, tensor, says) in refused {
            let before = (0..<tensor.count).map { tensor[$0] }
            var g = RandomGenerator(seed: 1)
            XCTAssertThrowsError(try scheme.apply(to: tensor, generator: &g), "\(scheme)") { error in
                XCTAssertTrue((error as? SmallNetError)?.message.contains(says) == true, "\(scheme): \(error)")
            }
            XCTAssertEqual((0..<tensor.count).map { tensor[$0] }, before, "\(scheme)")
        }
        // Uniform, normal and constant fill vectors.
        var g = RandomGenerator(seed: 1)
        try TensorInit.constant(0.25).apply(to: vector, generator: &g)
        XCTAssertEqual((0..<5).map { vector[$0] }, [0.25, 0.25, 0.25, 0.25, 0.25])
    }
}
