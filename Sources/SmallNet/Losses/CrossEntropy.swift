// Softmax cross-entropy, fused: the loss and dLogits in one pass.

/// Mean softmax cross-entropy over a batch, with optional label smoothing.
///
/// With p = softmax(z) (computed as exp(z − max z) / Σ, stable) and the target distribution
/// q = (1 − ε)·onehot(y) + ε/C, the loss is −(1/N) Σ_n Σ_c q_c log p_c and
/// dLogits = (p − q) / N (written into `dLogits` when it is given).
///
/// Shape: logits (N, C); labels N values in 0..<C; dLogits (N, C).
/// - Returns: the mean loss, and the number of rows whose arg-max equals the label.
/// - Throws: `shapeMismatch` for inconsistent sizes, `invalidArgument` for a label out of
///   range or ε outside [0, 1).
public func softmaxCrossEntropy(
    logits: Tensor, labels: UnsafeBufferPointer<Int32>, labelSmoothing: Float = 0, dLogits: Tensor? = nil
) throws -> (loss: Float, correct: Int) {
    guard logits.shape.count == 2 else {
        throw SmallNetError.shapeMismatch("logits must be (N, C), got \(logits.shape)")
    }
    let n = logits.shape[0], c = logits.shape[1]
    guard labels.count == n else {
        throw SmallNetError.shapeMismatch("\(n) rows of logits but \(labels.count) labels")
    }
    try require(labelSmoothing >= 0 && labelSmoothing < 1, "label smoothing must be in [0, 1), got \(labelSmoothing)")
    for (i, y) in labels.enumerated() where y < 0 || Int(y) >= c {
        throw SmallNetError.invalidArgument("label \(y) at index \(i) is outside 0..<\(c)")
    }
    if let dLogits {
        guard dLogits.shape == logits.shape else {
            throw SmallNetError.shapeMismatch("dLogits must have the logits' shape \(logits.shape), got \(dLogits.shape)")
        }
    }
    var total: Double = 0
    var correct = 0
    let off = labelSmoothing / Float(c), on = 1 - labelSmoothing + off
    let invN = 1 / Float(n)
    for i in 0..<n {
        let z = logits.data + i * c
        var maxZ = z[0], arg = 0
        for j in 1..<c where z[j] > maxZ { maxZ = z[j]; arg = j }
        var sum: Float = 0
        for j in 0..<c { sum += _exp(z[j] - maxZ) }
        let logSum = _log(sum) + maxZ
        let y = Int(labels[i])
        if arg == y { correct += 1 }
        // −Σ q_c log p_c = logSum − Σ q_c z_c
        var qz: Float = 0
        if labelSmoothing == 0 {
            qz = z[y]
        } else {
            for j in 0..<c { qz += (j == y ? on : off) * z[j] }
        }
        total += Double(logSum - qz)
        if let d = dLogits?.data {
            let row = d + i * c
            let invSum = 1 / sum
            for j in 0..<c {
                let p = _exp(z[j] - maxZ) * invSum
                let q: Float = labelSmoothing == 0 ? (j == y ? 1 : 0) : (j == y ? on : off)
                row[j] = (p - q) * invN
            }
        }
    }
    return (Float(total / Double(n)), correct)
}

/// Row-wise softmax of (N, C) logits into `probabilities` (same shape).
func softmax(_ logits: Tensor, into probabilities: UnsafeMutablePointer<Float>) {
    let n = logits.shape[0], c = logits.shape[1]
    for i in 0..<n {
        let z = logits.data + i * c, p = probabilities + i * c
        var maxZ = z[0]
        for j in 1..<c { maxZ = Swift.max(maxZ, z[j]) }
        var sum: Float = 0
        for j in 0..<c { p[j] = _exp(z[j] - maxZ); sum += p[j] }
        for j in 0..<c { p[j] /= sum }
    }
}
