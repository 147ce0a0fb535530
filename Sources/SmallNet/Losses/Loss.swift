// A loss function as PyTorch names it: its value and its gradient w.r.t. the input in one pass.

/// How a loss reduces its per-sample (or per-element) values, as PyTorch's `reduction`.
public enum Reduction: Sendable, Equatable {
    /// The mean: over the elements, or (cross-entropy, NLL) the weighted mean over the rows.
    case mean
    case sum
    /// One value per row (cross-entropy, NLL) or per element (the others).
    case none
}

/// A loss with its options, as PyTorch's `torch.nn.*Loss` modules.
///
/// Label losses (`crossEntropy`, `nll`) take N labels for an (N, C) input; the others take an
/// (N, C) float target and act element by element. `compute` returns the reduced value (or the
/// values, for `.none`) and writes the gradient of the reduced loss w.r.t. the input — of the
/// sum of the values for `.none` — in the same pass.
///
///  - `crossEntropy`: softmax cross-entropy (see `crossEntropyRows`), with `weight`,
///    `ignoreIndex`, `labelSmoothing`;
///  - `nll`: −w_y·x_y on log-probabilities (after a LogSoftmax), with `weight`, `ignoreIndex`;
///  - `mse`: (x − t)²; `l1`: |x − t| (gradient sign(x − t), 0 at 0);
///  - `smoothL1`: 0.5·d²/β where |d| < β, else |d| − 0.5·β (β = 0: L1);
///  - `huber`: 0.5·d² where |d| < δ, else δ·(|d| − 0.5·δ);
///  - `bceWithLogits`: −w_c·[p_c·t·log σ(x) + (1 − t)·log(1 − σ(x))] with `posWeight` p_c and
///    `weight` w_c per class (the last dimension), computed stably as PyTorch does.
public struct Loss: Sendable, Equatable {
    public enum Kind: Sendable, Equatable, CaseIterable {
        case crossEntropy, nll, mse, l1, smoothL1, huber, bceWithLogits
    }

    public var kind: Kind
    public var reduction: Reduction
    /// Cross-entropy: ε in [0, 1).
    public var labelSmoothing: Float = 0
    /// Cross-entropy, NLL: rows with this label cost nothing (PyTorch's default −100).
    public var ignoreIndex: Int32 = -100
    /// Class weights, C values: cross-entropy, NLL (weight of each label), BCE (of each column).
    public var weight: [Float]? = nil
    /// Smooth L1: β ≥ 0 (PyTorch's default 1).
    public var beta: Float = 1
    /// Huber: δ > 0 (PyTorch's default 1).
    public var delta: Float = 1
    /// BCE with logits: the weight of positive targets, C values (or 1 for every column).
    public var posWeight: [Float]? = nil

    public init(_ kind: Kind, reduction: Reduction = .mean) {
        self.kind = kind
        self.reduction = reduction
    }

    /// Whether the targets are labels (cross-entropy, NLL) rather than floats.
    public var takesLabels: Bool { kind == .crossEntropy || kind == .nll }

    /// - Throws: `invalidArgument` naming the first invalid option.
    public func validate() throws {
        try require(labelSmoothing >= 0 && labelSmoothing < 1, "label smoothing must be in [0, 1), got \(labelSmoothing)")
        try require(beta >= 0 && beta.isFinite, "beta must be finite and ≥ 0, got \(beta)")
        try require(delta > 0 && delta.isFinite, "delta must be finite and > 0, got \(delta)")
        for (j, w) in (weight ?? []).enumerated() { try require(w.isFinite, "weight[\(j)] is \(w); weights must be finite") }
        for (j, w) in (posWeight ?? []).enumerated() { try require(w.isFinite, "pos_weight[\(j)] is \(w); weights must be finite") }
        if labelSmoothing != 0 { try require(kind == .crossEntropy, "label smoothing applies to cross-entropy only") }
        if posWeight != nil { try require(kind == .bceWithLogits, "pos_weight applies to BCE with logits only") }
        if weight != nil {
            try require(kind == .crossEntropy || kind == .nll || kind == .bceWithLogits,
                        "class weights apply to cross-entropy, NLL and BCE with logits only")
        }
    }

    /// The number of values `compute` returns for an (N, C) input.
    public func valueCount(rows n: Int, classes c: Int) -> Int {
        reduction != .none ? 1 : (takesLabels ? n : n * c)
    }

    /// The loss of `input` against `labels` (label losses) or `targets` (the others).
    ///
    /// Shape: input (N, C); labels N; targets N·C; dInput (N, C).
    /// - Parameter dInput: receives the gradient of the reduced loss (of the sum of the values
    ///   for `.none`) w.r.t. the input, when given.
    /// - Returns: the values (one, or `valueCount` for `.none`) and, for label losses, the
    ///   number of rows not ignored whose arg-max is the label (0 otherwise).
    /// - Throws: `invalidArgument` for bad options or labels, `shapeMismatch` for sizes that do
    ///   not fit.
    public func compute(input: Tensor, labels: UnsafeBufferPointer<Int32>? = nil,
                        targets: UnsafeBufferPointer<Float>? = nil,
                        dInput: Tensor? = nil) throws -> (values: [Float], correct: Int) {
        try validate()
        guard input.shape.count == 2 else {
            throw SmallNetError.shapeMismatch("the input must be (N, C), got \(input.shape)")
        }
        let n = input.shape[0], c = input.shape[1]
        var values = [Float](repeating: 0, count: valueCount(rows: n, classes: c))
        if takesLabels {
            guard let labels else { throw SmallNetError.invalidArgument("\(kind) needs labels") }
            let r = try values.withUnsafeMutableBufferPointer { v in
                let rows = reduction == .none ? v.baseAddress : nil
                return kind == .crossEntropy
                    ? try crossEntropyRows(logits: input, labels: labels, labelSmoothing: labelSmoothing, weight: weight,
                                           ignoreIndex: ignoreIndex, reduction: reduction, rowLosses: rows, dLogits: dInput)
                    : try nllRows(input: input, labels: labels, weight: weight, ignoreIndex: ignoreIndex,
                                  reduction: reduction, rowLosses: rows, dInput: dInput)
            }
            if reduction == .mean { values[0] = Float(r.total / r.weightSum) }
            if reduction == .sum { values[0] = Float(r.total) }
            return (values, r.correct)
        }
        guard let targets else { throw SmallNetError.invalidArgument("\(kind) needs float targets") }
        try values.withUnsafeMutableBufferPointer { v in
            try elementwiseLoss(input: input, targets: targets, reduction: reduction, values: v, dInput: dInput)
        }
        return (values, 0)
    }

    /// Element-wise losses: value and derivative of each element, reduced.
    private func elementwiseLoss(input: Tensor, targets: UnsafeBufferPointer<Float>, reduction: Reduction,
                                 values: UnsafeMutableBufferPointer<Float>, dInput: Tensor?) throws {
        let c = input.shape[1], count = input.count
        guard targets.count == count else {
            throw SmallNetError.shapeMismatch("the input has \(count) elements \(input.shape) but the targets \(targets.count)")
        }
        if let dInput, dInput.shape != input.shape {
            throw SmallNetError.shapeMismatch("the gradient must have the input's shape \(input.shape), got \(dInput.shape)")
        }
        if let weight, weight.count != c {
            throw SmallNetError.shapeMismatch("\(weight.count) class weights for \(c) columns")
        }
        if let posWeight, posWeight.count != c && posWeight.count != 1 {
            throw SmallNetError.shapeMismatch("\(posWeight.count) pos_weight values for \(c) columns (give \(c) or 1)")
        }
        let scale: Float = reduction == .mean ? 1 / Float(count) : 1
        var total: Double = 0
        for i in 0..<count {
            let (value, derivative) = element(input.data[i], targets[i], column: i % c)
            if reduction == .none { values[i] = value } else { total += Double(value) }
            dInput?.data[i] = derivative * scale
        }
        if reduction == .mean { values[0] = Float(total / Double(count)) }
        if reduction == .sum { values[0] = Float(total) }
    }

    /// One element's loss and its derivative w.r.t. x.
    @inline(__always)
    private func element(_ x: Float, _ t: Float, column: Int) -> (Float, Float) {
        let d = x - t
        switch kind {
        case .mse:
            return (d * d, 2 * d)
        case .l1:
            return (abs(d), sign(d))
        case .smoothL1:
            if abs(d) < beta { return (0.5 * d * d / beta, d / beta) }
            return (abs(d) - 0.5 * beta, sign(d))
        case .huber:
            if abs(d) < delta { return (0.5 * d * d, d) }
            return (delta * (abs(d) - 0.5 * delta), delta * sign(d))
        case .bceWithLogits:
            let w = weight?[column] ?? 1
            let p = posWeight.map { $0.count == 1 ? $0[0] : $0[column] } ?? 1
            return binaryCrossEntropyWithLogits(x, t, posWeight: p, weight: w)
        case .crossEntropy, .nll:
            return (0, 0)  // label losses do not come here
        }
    }
}

/// −1, 0 or 1.
@inline(__always) private func sign(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }

extension Loss {
    /// The training loss of a batch of a classification dataset: label losses take the labels;
    /// the others take their one-hot encoding as targets (1 in the label's column, 0 elsewhere).
    /// Accuracy stays "arg-max of the output equals the label" for every kind.
    ///
    /// Shape: input (N, C); labels N in 0..<C; dInput (N, C).
    /// - Returns: the reduced loss and the number of rows whose arg-max is the label.
    /// - Throws: `invalidArgument` for `.none` (training needs one value) or bad labels.
    public func batchLoss(input: Tensor, labels: UnsafeBufferPointer<Int32>, dInput: Tensor?) throws -> (loss: Float, correct: Int) {
        try require(reduction != .none, "training needs a reduced loss (mean or sum), not reduction none")
        if takesLabels {
            let r = try compute(input: input, labels: labels, dInput: dInput)
            return (r.values[0], r.correct)
        }
        guard input.shape.count == 2, input.shape[0] == labels.count else {
            throw SmallNetError.shapeMismatch("\(labels.count) labels for an input of shape \(input.shape)")
        }
        let c = input.shape[1]
        var oneHot = [Float](repeating: 0, count: input.count)
        var correct = 0
        for (i, y) in labels.enumerated() {
            guard y >= 0 && Int(y) < c else {
                throw SmallNetError.invalidArgument("label \(y) at index \(i) is outside 0..<\(c)")
            }
            oneHot[i * c + Int(y)] = 1
            if argmax(input.data + i * c, count: c) == Int(y) { correct += 1 }
        }
        let r = try oneHot.withUnsafeBufferPointer { try compute(input: input, targets: $0, dInput: dInput) }
        return (r.values[0], correct)
    }
}
