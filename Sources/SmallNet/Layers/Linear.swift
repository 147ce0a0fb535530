// Linear (fully connected) layer: y = x·Wᵀ + b.
import SmallNetKernels

/// Applies y = x·Wᵀ + b.
///
/// Shape: input (N, inFeatures) — any (N, …) whose per-sample size is `inFeatures`;
/// output (N, outFeatures). Parameters: `weight` (outFeatures, inFeatures), `bias` (outFeatures),
/// as in PyTorch's `nn.Linear`. Init: Kaiming normal, std = √(2 / inFeatures), bias 0
/// (or PyTorch's default, U(±1/√inFeatures) for both). Forward: a GEMM, or for a batch of at
/// most `fewSamples` (single-image inference) one dot product per output, summed in another order.
public final class Linear: Layer {
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?

    /// Batches of at most this many samples go forward as row-by-row dot products (`rowDots`):
    /// single-image inference.
    static let fewSamples = 4

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private let scratch = Tensor(uncheckedShape: [0], count: 0)
    private var input: Tensor?

    /// - Throws: `invalidArgument` if a size is not positive, `outOfMemory` if the weight is too large.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true,
                initialization: WeightInit = .kaimingNormal, generator: inout RandomGenerator) throws {
        try require(inFeatures > 0 && outFeatures > 0,
                    "Linear sizes must be positive, got \(inFeatures) → \(outFeatures)")
        _ = try Tensor.elementCount([outFeatures, inFeatures])
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter(name: "weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? Parameter(name: "bias", shape: [outFeatures]) : nil
        resetParameters(initialization, generator: &generator)
    }

    public func resetParameters(_ scheme: WeightInit, generator: inout RandomGenerator) {
        scheme.initialize(weight: weight.value, bias: bias?.value, fanIn: inFeatures, generator: &generator)
    }

    public var kind: String { "linear" }
    public func forwardFLOPs(inputShape: [Int]) -> Int { 2 * inFeatures * outFeatures }
    public var spec: JSON {
        .object([("kind", .string(kind)), ("in", .number(inFeatures)), ("out", .number(outFeatures)), ("bias", .bool(bias != nil))])
    }
    public var summary: String { "Linear(\(inFeatures) → \(outFeatures)\(bias == nil ? ", no bias" : ""))" }
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.reduce(1, *) == inFeatures else {
            throw SmallNetError.shapeMismatch("\(summary) expects \(inFeatures) input features, got shape \(inputShape)")
        }
        return [outFeatures]
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input)
        self.input = input
        output.resize([n, outFeatures])
        let y = output.data, w = weight.value.data
        if n <= Linear.fewSamples {
            // y = x·Wᵀ + b as dot products of rows: no transpose, no GEMM tile of mostly padding.
            kernels.rowDots(input.data, rows: n, weights: w, outputs: outFeatures, depth: inFeatures,
                            bias: bias?.value.data, output: y, ldy: outFeatures)
            return output
        }
        if takesDirectProduct(batch: n) {
            directProduct(input, into: y, epilogue: nil, pool: context.pool)
        } else {
            // yᵀ (OUT, N) = W (OUT, IN) · xᵀ (IN, N), then y = (yᵀ)ᵀ + b
            scratch.resize([outFeatures, n])
            gemmTransposedB(m: outFeatures, n: n, k: inFeatures, a: w, lda: inFeatures, b: input.data, ldb: inFeatures,
                            c: scratch.data, ldc: n, accumulate: false, pool: context.pool)
            transpose(rows: outFeatures, cols: n, src: scratch.data, lds: n, dst: y, ldd: outFeatures)
            if let b = bias?.value.data {
                for i in 0..<n { kernels.addInPlace(y + i * outFeatures, b, count: outFeatures) }
            }
        }
        return output
    }

    /// Whether `forward` computes a batch of `n` as one product y = b + x·Wᵀ with Wᵀ's panels
    /// packed from W (else yᵀ = W·xᵀ, or dot products for a few samples): both ways transpose
    /// one operand, and this one moves fewer floats when n·(IN + OUT) ≥ OUT·IN.
    func takesDirectProduct(batch n: Int) -> Bool {
        n > Linear.fewSamples && n * (inFeatures + outFeatures) >= outFeatures * inFeatures
    }

    /// y (N, OUT) = b + x (N, IN) · Wᵀ (IN, OUT), the bias added and `epilogue` applied as each
    /// tile of y is stored; the samples split over the threads (each packs all of Wᵀ, and reads
    /// and writes only its own samples). Measured with `smallnet profile --arch fcn --budget
    /// 200000 --batch-size 256 --inference`, 2 threads, three alternating rounds: 243–280K
    /// images/s split by column panels, 276–301K by samples.
    private func directProduct(_ input: Tensor, into y: UnsafeMutablePointer<Float>, epilogue: GemmEpilogue?,
                               pool: ThreadPool?) {
        gemmTransposedB(m: batchSize(input), n: outFeatures, k: inFeatures, a: input.data, lda: inFeatures,
                        b: weight.value.data, ldb: inFeatures, c: y, ldc: outFeatures, accumulate: false,
                        columnBias: bias?.value.data, epilogue: epilogue, pool: pool, byRows: true)
    }

    /// epilogue(x·Wᵀ + b) into `output` (resized to (N, OUT)), for a batch that `takesDirectProduct`:
    /// the numbers of `forward` followed by the epilogue's layers, without writing x·Wᵀ + b out.
    /// Keeps nothing for backward.
    func forward(_ input: Tensor, finishing epilogue: GemmEpilogue, into output: Tensor, pool: ThreadPool?) {
        let n = batchSize(input)
        precondition(takesDirectProduct(batch: n), "a finished forward needs the direct product")
        output.resize([n, outFeatures])
        directProduct(input, into: output.data, epilogue: epilogue, pool: pool)
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard let input else { return nil }
        let n = batchSize(dOut)
        // dW (OUT, IN) += dOutᵀ (OUT, N) · x (N, IN)
        gemmTransposedA(m: outFeatures, n: inFeatures, k: n, a: dOut.data, lda: outFeatures,
                        b: input.data, ldb: inFeatures, c: weight.grad.data, ldc: inFeatures,
                        accumulate: true, pool: context.pool)
        // db (OUT) += Σ_n dOut[n, :]
        if let db = bias?.grad.data {
            for i in 0..<n { kernels.addInPlace(db, dOut.data + i * outFeatures, count: outFeatures) }
        }
        guard needInputGradient else { return nil }
        // dx (N, IN) = dOut (N, OUT) · W (OUT, IN)
        dInput.resize(input.shape)
        gemm(m: n, n: inFeatures, k: outFeatures, a: dOut.data, lda: outFeatures,
             b: weight.value.data, ldb: inFeatures, c: dInput.data, ldc: inFeatures,
             accumulate: false, pool: context.pool)
        return dInput
    }
}
