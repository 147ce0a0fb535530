// Layer normalisation over the last dimensions of each sample.

/// y = γ ⊙ (x − μ) / √(σ² + ε) + β, where μ and σ² are the mean and biased variance of each
/// sample's last `normalizedShape.count` dimensions (the same in training and eval).
/// Backward, with g = dy ⊙ γ and x̂ = (x − μ)/√(σ² + ε) over a group of M values:
/// dx = (g − mean(g) − x̂·mean(g ⊙ x̂)) / √(σ² + ε), dγ = Σ dy ⊙ x̂, dβ = Σ dy.
///
/// Shape: input (N, …, *normalizedShape); output the same. Parameters (with
/// `elementwiseAffine`) `weight` γ = 1 and `bias` β = 0, both of `normalizedShape`. As
/// `nn.LayerNorm(normalized_shape, eps, elementwise_affine)`; Ba et al. 2016, "Layer Normalization".
public final class LayerNorm: Layer {
    public let normalizedShape: [Int]
    public let eps: Float
    public let weight: Parameter?
    public let bias: Parameter?
    /// Values normalised together (the product of `normalizedShape`).
    private let groupSize: Int

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private let normalized = Tensor(uncheckedShape: [0], count: 0)
    /// 1/√(σ² + ε) of each group of the last forward.
    private var inverseStd: [Float] = []

    /// - Throws: `invalidArgument` for 1…3 dimensions that are not all positive, a group over
    ///   2²⁴ values, or eps ≤ 0.
    public init(normalizedShape: [Int], eps: Float = 1e-5, elementwiseAffine: Bool = true) throws {
        try require((1...3).contains(normalizedShape.count) && normalizedShape.allSatisfy { $0 > 0 && $0 <= 1 << 24 },
                    "LayerNorm needs 1 to 3 positive normalized dimensions, got \(normalizedShape)")
        let size = normalizedShape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        try require(size <= 1 << 24, "LayerNorm normalizes at most 2^24 values together, got \(normalizedShape)")
        try require(eps > 0 && eps.isFinite, "LayerNorm eps must be positive, got \(eps)")
        self.normalizedShape = normalizedShape
        self.eps = eps
        groupSize = size
        weight = elementwiseAffine ? Parameter(name: "weight", shape: normalizedShape) : nil
        bias = elementwiseAffine ? Parameter(name: "bias", shape: normalizedShape) : nil
        resetParameters()
    }

    public func resetParameters() {
        weight?.value.fill(1)
        bias?.value.fill(0)
    }

    public var kind: String { "layernorm" }
    public var spec: JSON {
        .object([("kind", .string(kind)), ("shape", .array(normalizedShape.map { .number($0) })),
                 ("eps", .number(eps)), ("affine", .bool(weight != nil))])
    }
    public var summary: String {
        let dims = normalizedShape.count == 1 ? "(\(normalizedShape[0]),)" : "(\(normalizedShape.map(String.init).joined(separator: ", ")))"
        return "LayerNorm(\(dims), eps=\(eps)\(weight == nil ? ", elementwise_affine=False" : ""))"
    }
    public var parameters: [Parameter] { [weight, bias].compactMap { $0 } }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count >= normalizedShape.count, Array(inputShape.suffix(normalizedShape.count)) == normalizedShape else {
            throw SmallNetError.shapeMismatch("\(summary) expects per-sample shapes ending in \(normalizedShape), got \(inputShape)")
        }
        return inputShape
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let m = groupSize, groups = input.count / m
        output.resize(input.shape)
        normalized.resize(input.shape)
        if inverseStd.count != groups { inverseStd = [Float](repeating: 0, count: groups) }
        let x = input.data, y = output.data, xh = normalized.data
        let g = weight?.value.data, b = bias?.value.data
        inverseStd.withUnsafeMutableBufferPointer { istd in
            forEachRange(count: groups, pool: input.count >= valuesWorthThreads ? context.pool : nil) { range in
                for r in range {
                    let xr = x + r * m, xhr = xh + r * m, yr = y + r * m
                    // Mean and biased variance in Double, two passes.
                    var sum = 0.0
                    for j in 0..<m { sum += Double(xr[j]) }
                    let mu = sum / Double(m)
                    var sq = 0.0
                    for j in 0..<m { let d = Double(xr[j]) - mu; sq += d * d }
                    let inv = Float(1 / (sq / Double(m) + Double(eps)).squareRoot())
                    istd[r] = inv
                    let mean = Float(mu)
                    for j in 0..<m { xhr[j] = (xr[j] - mean) * inv }
                    if let g, let b {
                        for j in 0..<m { yr[j] = xhr[j] * g[j] + b[j] }
                    } else {
                        for j in 0..<m { yr[j] = xhr[j] }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        let m = groupSize, groups = dOut.count / m
        let dy = dOut.data, xh = normalized.data
        if let dg = weight?.grad.data, let db = bias?.grad.data {
            for r in 0..<groups {
                let d = dy + r * m, xr = xh + r * m
                for j in 0..<m { dg[j] += d[j] * xr[j]; db[j] += d[j] }
            }
        }
        guard needInputGradient else { return nil }
        dInput.resize(dOut.shape)
        let dx = dInput.data, g = weight?.value.data
        let invM = 1 / Float(m)
        inverseStd.withUnsafeBufferPointer { istd in
            forEachRange(count: groups, pool: dOut.count >= valuesWorthThreads ? context.pool : nil) { range in
                for r in range {
                    let d = dy + r * m, xr = xh + r * m, o = dx + r * m
                    var sumG: Float = 0, sumGX: Float = 0
                    for j in 0..<m {
                        let gj = g.map { d[j] * $0[j] } ?? d[j]
                        sumG += gj
                        sumGX += gj * xr[j]
                    }
                    let meanG = sumG * invM, meanGX = sumGX * invM, inv = istd[r]
                    for j in 0..<m {
                        let gj = g.map { d[j] * $0[j] } ?? d[j]
                        o[j] = inv * (gj - meanG - xr[j] * meanGX)
                    }
                }
            }
        }
        return dInput
    }
}
