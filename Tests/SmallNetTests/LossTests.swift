// Softmax cross-entropy: values, gradients, label smoothing, stability and errors.
import XCTest
@testable import SmallNet

final class LossTests: XCTestCase {
    func testHandComputedLoss() throws {
        let logits = try Tensor(shape: [1, 3], values: [1, 2, 3])
        let (loss, correct) = try [Int32(2)].withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0) }
        let expected = -log(exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0)))
        XCTAssertEqual(Double(loss), expected, accuracy: 1e-6)
        XCTAssertEqual(correct, 1)
    }

    func testGradientMatchesFiniteDifferences() throws {
        for smoothing: Float in [0, 0.1] {
            let logits = randomTensor([4, 10], seed: 7, scale: 2)
            let labels: [Int32] = [3, 0, 9, 3]
            let d = try Tensor(shape: [4, 10])
            _ = try labels.withUnsafeBufferPointer {
                try softmaxCrossEntropy(logits: logits, labels: $0, labelSmoothing: smoothing, dLogits: d)
            }
            for i in 0..<logits.count {
                let saved = logits.data[i]
                func loss() throws -> Double {
                    Double(try labels.withUnsafeBufferPointer {
                        try softmaxCrossEntropy(logits: logits, labels: $0, labelSmoothing: smoothing).loss
                    })
                }
                logits.data[i] = saved + 1e-2; let up = try loss()
                logits.data[i] = saved - 1e-2; let down = try loss()
                logits.data[i] = saved
                XCTAssertEqual(Double(d.data[i]), (up - down) / 2e-2, accuracy: 1e-3, "smoothing \(smoothing), index \(i)")
            }
        }
    }

    func testLabelSmoothingValue() throws {
        let logits = try Tensor(shape: [1, 2], values: [0, 0])
        let (loss, _) = try [Int32(0)].withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0, labelSmoothing: 0.2) }
        XCTAssertEqual(Double(loss), log(2.0), accuracy: 1e-6)  // uniform p: −Σ q log ½ = log 2
    }

    func testLargeLogitsStayFinite() throws {
        let logits = try Tensor(shape: [1, 3], values: [1000, -1000, 0])
        let d = try Tensor(shape: [1, 3])
        let (loss, _) = try [Int32(1)].withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0, dLogits: d) }
        XCTAssertEqual(loss, 2000, accuracy: 1e-2)
        XCTAssertTrue(d.values.allSatisfy { $0.isFinite })
    }

    func testBadInputsThrow() throws {
        let logits = try Tensor(shape: [2, 3])
        XCTAssertThrowsError(try [Int32(0)].withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0) })
        XCTAssertThrowsError(try [Int32(0), 3].withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0) })
        XCTAssertThrowsError(try [Int32(0), -1].withUnsafeBufferPointer { try softmaxCrossEntropy(logits: logits, labels: $0) })
        XCTAssertThrowsError(try [Int32(0), 1].withUnsafeBufferPointer {
            try softmaxCrossEntropy(logits: logits, labels: $0, labelSmoothing: 1)
        })
    }
}
