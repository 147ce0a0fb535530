// Softmax cross-entropy and negative log-likelihood, fused: the loss and dInput in one pass.

/// Softmax cross-entropy over rows of logits, with class weights, an ignored label and label
/// smoothing, as PyTorch's `cross_entropy` with class indices.
///
/// With m = max z, L = log Σ_c e^(z_c − m) and −log p_c = L − (z_c − m), each row n whose label
/// y is not `ignoreIndex` costs
///
///     ℓ_n = Σ_c a_c (L − (z_c − m)),   a_c = (1 − ε)·w_y·[c = y] + (ε/C)·w_c,
///
/// and dℓ_n/dz_c = A·p_c − a_c with A = Σ_c a_c (without weights a = q, the smoothed one-hot
/// target, A = 1 and the gradient is p − q). Subtracting m before the products keeps the loss
/// exact at large logits. Ignored rows cost 0 and get a zero gradient. `.mean` divides by
/// W = Σ_n w_(y_n) over the rows not ignored (their number without weights), as PyTorch.
///
/// Shape: logits (N, C); labels N values in 0..<C (or `ignoreIndex`); rowLosses N; dLogits (N, C).
/// - Parameters:
///   - rowLosses: receives ℓ_n per row when given.
///   - dLogits: receives the gradient of the reduced loss (of Σ_n ℓ_n for `.none`) when given.
/// - Returns: Σ_n ℓ_n (in Double), W, and the number of rows not ignored whose arg-max is the label.
/// - Throws: `invalidArgument` for a label out of range or ε outside [0, 1), `shapeMismatch`
///   for inconsistent sizes.
func crossEntropyRows(
    logits: Tensor, labels: UnsafeBufferPointer<Int32>, labelSmoothing: Float, weight: [Float]?,
    ignoreIndex: Int32?, reduction: Reduction, rowLosses: UnsafeMutablePointer<Float>?, dLogits: Tensor?
) throws -> (total: Double, weightSum: Double, correct: Int) {
    let (n, c) = try rowsAndClasses(logits, labels: labels, weight: weight, ignoreIndex: ignoreIndex, dInput: dLogits)
    try require(labelSmoothing >= 0 && labelSmoothing < 1, "label smoothing must be in [0, 1), got \(labelSmoothing)")
    let weightSum = labelWeightSum(labels, weight: weight, ignoreIndex: ignoreIndex)
    var total: Double = 0
    var correct = 0
    let off = labelSmoothing / Float(c), on = 1 - labelSmoothing + off
    let scale: Float = reduction == .mean ? 1 / Float(weightSum) : 1
    for i in 0..<n {
        let z = logits.data + i * c
        let y = Int(labels[i])
        if let ignoreIndex, labels[i] == ignoreIndex {
            rowLosses?[i] = 0
            if let d = dLogits?.data { (d + i * c).update(repeating: 0, count: c) }
            continue
        }
        var maxZ = z[0], arg = 0
        for j in 1..<c where z[j] > maxZ { maxZ = z[j]; arg = j }
        var sum: Float = 0
        for j in 0..<c { sum += _exp(z[j] - maxZ) }
        let logSum = _log(sum)  // L
        if arg == y { correct += 1 }
        var loss: Float
        if let weight {
            // ℓ = A·L − Σ a_c (z_c − m)
            let wy = (1 - labelSmoothing) * weight[y]
            var a: Float = wy, az: Float = wy * (z[y] - maxZ)
            if labelSmoothing != 0 {
                for j in 0..<c { a += off * weight[j]; az += off * weight[j] * (z[j] - maxZ) }
            }
            loss = a * logSum - az
            if let d = dLogits?.data {
                let row = d + i * c, invSum = 1 / sum
                for j in 0..<c {
                    let p = _exp(z[j] - maxZ) * invSum
                    let aj = (j == y ? wy : 0) + (labelSmoothing == 0 ? 0 : off * weight[j])
                    row[j] = (a * p - aj) * scale
                }
            }
        } else {
            // ℓ = L − Σ q_c (z_c − m)
            var qz: Float = 0
            if labelSmoothing == 0 {
                qz = z[y] - maxZ
            } else {
                for j in 0..<c { qz += (j == y ? on : off) * (z[j] - maxZ) }
            }
            loss = logSum - qz
            if let d = dLogits?.data {
                let row = d + i * c, invSum = 1 / sum
                for j in 0..<c {
                    let p = _exp(z[j] - maxZ) * invSum
                    let q: Float = labelSmoothing == 0 ? (j == y ? 1 : 0) : (j == y ? on : off)
                    row[j] = (p - q) * scale
                }
            }
        }
        rowLosses?[i] = loss
        total += Double(loss)
    }
    return (total, weightSum, correct)
}

/// Negative log-likelihood of rows of log-probabilities (after a LogSoftmax), as PyTorch's
/// `nll_loss`: ℓ_n = −w_y·x_(n,y) for each row whose label y is not `ignoreIndex`;
/// dℓ_n/dx_(n,y) = −w_y, zero elsewhere. `.mean` divides by W = Σ_n w_(y_n) over the rows not ignored.
///
/// Shape: input (N, C); labels N; rowLosses N; dInput (N, C).
/// - Returns: Σ_n ℓ_n, W, and the number of rows not ignored whose arg-max is the label.
func nllRows(
    input: Tensor, labels: UnsafeBufferPointer<Int32>, weight: [Float]?, ignoreIndex: Int32?,
    reduction: Reduction, rowLosses: UnsafeMutablePointer<Float>?, dInput: Tensor?
) throws -> (total: Double, weightSum: Double, correct: Int) {
    let (n, c) = try rowsAndClasses(input, labels: labels, weight: weight, ignoreIndex: ignoreIndex, dInput: dInput)
    let weightSum = labelWeightSum(labels, weight: weight, ignoreIndex: ignoreIndex)
    let scale: Float = reduction == .mean ? 1 / Float(weightSum) : 1
    var total: Double = 0
    var correct = 0
    dInput?.fill(0)
    for i in 0..<n {
        if let ignoreIndex, labels[i] == ignoreIndex { rowLosses?[i] = 0; continue }
        let x = input.data + i * c, y = Int(labels[i])
        if argmax(x, count: c) == y { correct += 1 }
        let w = weight?[y] ?? 1
        let loss = -w * x[y]
        rowLosses?[i] = loss
        total += Double(loss)
        if let d = dInput?.data { d[i * c + y] = -w * scale }
    }
    return (total, weightSum, correct)
}

/// Checks a label loss's arguments; returns (N, C).
private func rowsAndClasses(_ input: Tensor, labels: UnsafeBufferPointer<Int32>, weight: [Float]?,
                            ignoreIndex: Int32?, dInput: Tensor?) throws -> (Int, Int) {
    guard input.shape.count == 2 else {
        throw SmallNetError.shapeMismatch("the input must be (N, C), got \(input.shape)")
    }
    let n = input.shape[0], c = input.shape[1]
    guard labels.count == n else {
        throw SmallNetError.shapeMismatch("\(n) rows of input but \(labels.count) labels")
    }
    try require(n >= 1 && c >= 1, "the input must have at least one row and one class, got \(input.shape)")
    for (i, y) in labels.enumerated() where (y < 0 || Int(y) >= c) && y != ignoreIndex {
        throw SmallNetError.invalidArgument("label \(y) at index \(i) is outside 0..<\(c)")
    }
    if let weight {
        guard weight.count == c else {
            throw SmallNetError.shapeMismatch("\(weight.count) class weights for \(c) classes")
        }
        for (j, w) in weight.enumerated() where !w.isFinite {
            throw SmallNetError.invalidArgument("class weight \(j) is \(w); weights must be finite")
        }
    }
    if let dInput, dInput.shape != input.shape {
        throw SmallNetError.shapeMismatch("the gradient must have the input's shape \(input.shape), got \(dInput.shape)")
    }
    return (n, c)
}

/// W = Σ_n w_(y_n) over the rows not ignored (their number without weights).
private func labelWeightSum(_ labels: UnsafeBufferPointer<Int32>, weight: [Float]?, ignoreIndex: Int32?) -> Double {
    var sum: Double = 0
    for y in labels where y != ignoreIndex { sum += Double(weight?[Int(y)] ?? 1) }
    return sum
}

/// Mean softmax cross-entropy over a batch, with optional label smoothing.
///
/// With p = softmax(z) (computed as exp(z − max z) / Σ, stable) and the target distribution
/// q = (1 − ε)·onehot(y) + ε/C, the loss is −(1/N) Σ_n Σ_c q_c log p_c, computed per row as
/// log Σ_c e^(z_c − max z) − Σ_c q_c (z_c − max z), and dLogits = (p − q) / N (written into
/// `dLogits` when it is given). The general form (weights, ignored labels, reductions) is `Loss`.
///
/// Shape: logits (N, C); labels N values in 0..<C; dLogits (N, C).
/// - Returns: the mean loss, and the number of rows whose arg-max equals the label.
/// - Throws: `shapeMismatch` for inconsistent sizes, `invalidArgument` for a label out of
///   range or ε outside [0, 1).
public func softmaxCrossEntropy(
    logits: Tensor, labels: UnsafeBufferPointer<Int32>, labelSmoothing: Float = 0, dLogits: Tensor? = nil
) throws -> (loss: Float, correct: Int) {
    let r = try crossEntropyRows(logits: logits, labels: labels, labelSmoothing: labelSmoothing, weight: nil,
                                 ignoreIndex: nil, reduction: .mean, rowLosses: nil, dLogits: dLogits)
    return (Float(r.total / r.weightSum), r.correct)
}

/// Row-wise softmax of (N, C) logits into `probabilities` (same shape); the rows spread over
/// `pool` when there are enough of them (each row by itself, the same numbers either way).
func softmax(_ logits: Tensor, into probabilities: UnsafeMutablePointer<Float>, pool: ThreadPool? = nil) {
    let n = logits.shape[0], c = logits.shape[1], z0 = logits.data
    forEachRange(count: n, pool: n * c >= 1 << 10 ? pool : nil) { rows in
        for i in rows {
            let z = z0 + i * c, p = probabilities + i * c
            var maxZ = z[0]
            for j in 1..<c { maxZ = Swift.max(maxZ, z[j]) }
            var sum: Float = 0
            for j in 0..<c { p[j] = _exp(z[j] - maxZ); sum += p[j] }
            for j in 0..<c { p[j] /= sum }
        }
    }
}
