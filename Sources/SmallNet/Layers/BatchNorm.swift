// Batch normalisation: one core over (N, C, M) inputs, M = 1 (BatchNorm1d) or H·W (BatchNorm2d).
import SmallNetKernels

/// y = γ_c · (x − μ_c) / √(σ²_c + ε) + β_c, statistics over the N·M values of each channel c.
///
/// Training: μ, σ² are the batch mean and biased variance, summed in Double; the running
/// statistics move by `momentum`: r ← (1 − m)·r + m·stat (the running variance takes the
/// unbiased estimate, as PyTorch). Eval: the running statistics, or the batch's again without
/// `trackRunningStats`. Backward (batch statistics): dx = γ/(M'·σ) · (M'·dy − Σdy − x̂·Σ(dy·x̂)),
/// M' = N·M; dγ = Σ dy·x̂, dβ = Σ dy. x̂ is recomputed from the saved input in backward rather
/// than stored (measured: see `BatchNormTests`).
///
/// Two kernels share these statistics: flat features (BatchNorm1d) go row by row, σ⁻¹ taken in
/// Double and y = γ·x̂ + β; planes (BatchNorm2d) go plane by plane in 16 float lanes with
/// y = x·(γσ⁻¹) + (β − μγσ⁻¹) and Σdy·x̂ = σ⁻¹·(Σdy·x − μ·Σdy). As PyTorch's `_BatchNorm`.
///
/// Parameters `weight` γ (C) = 1, `bias` β (C) = 0 (listed only when `affine`); buffers
/// `running_mean` (C) = 0, `running_var` (C) = 1, `num_batches_tracked` (listed only when
/// `trackRunningStats`).
public class BatchNorm: Layer {
    /// C: features (1d) or channels (2d).
    public let channels: Int
    public let momentum: Float
    public let eps: Float
    /// Whether γ and β are trainable parameters (false: γ = 1 and β = 0 throughout).
    public let affine: Bool
    /// Whether running statistics are kept and used in eval mode.
    public let trackRunningStats: Bool
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Tensor
    public let runningVar: Tensor
    /// Batches seen in training mode (a one-element tensor, as PyTorch stores it).
    public let batchesTracked: Tensor

    private let output = Tensor(uncheckedShape: [0], count: 0)
    private let dInput = Tensor(uncheckedShape: [0], count: 0)
    private var input: Tensor?
    /// μ and σ⁻¹ of the last forward, per channel (batch or running statistics).
    private let batchMean: Tensor
    private let inverseStd: Tensor
    /// Per plane (s, c) of planar inputs, at 2·(s·C + c): its two sums, (Σx, Σx²) forward,
    /// (Σdy, Σdy·x) backward.
    private let planeSums = Tensor(uncheckedShape: [0], count: 0)
    private var usedBatchStatistics = false
    /// Planes (N, C, H, W) or flat features (N, F): which kernel pair runs.
    private let planar: Bool

    init(_ name: String, planar: Bool, channels: Int, limit: Int, momentum: Float, eps: Float, affine: Bool,
         trackRunningStats: Bool) throws {
        try require(channels > 0 && channels <= limit, "\(name) needs a positive \(name == "BatchNorm1d" ? "feature" : "channel") count, got \(channels)")
        try require(momentum >= 0 && momentum <= 1, "BatchNorm momentum must be in [0, 1], got \(momentum)")
        try require(eps > 0 && eps.isFinite, "BatchNorm eps must be positive, got \(eps)")
        self.planar = planar
        self.channels = channels
        self.momentum = momentum
        self.eps = eps
        self.affine = affine
        self.trackRunningStats = trackRunningStats
        weight = Parameter(name: "weight", shape: [channels])
        bias = Parameter(name: "bias", shape: [channels])
        runningMean = Tensor(uncheckedShape: [channels], count: channels)
        runningVar = Tensor(uncheckedShape: [channels], count: channels)
        batchesTracked = Tensor(uncheckedShape: [], count: 1)
        inverseStd = Tensor(uncheckedShape: [channels], count: channels)
        batchMean = Tensor(uncheckedShape: [channels], count: channels)
        resetParameters()
    }

    public func resetParameters() {
        weight.value.fill(1)
        bias.value.fill(0)
        runningMean.fill(0)
        runningVar.fill(1)
        batchesTracked.fill(0)
    }

    // The named shells override these four.
    public var kind: String { "batchnorm" }
    public var spec: JSON { .object(specFields) }
    public var summary: String { "BatchNorm(\(channels))" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    /// "momentum", "eps", and "affine" / "track_running_stats" only when false (absent: true).
    var specFields: [(String, JSON)] {
        var fields: [(String, JSON)] = [("momentum", .number(momentum)), ("eps", .number(eps))]
        if !affine { fields.append(("affine", .bool(false))) }
        if !trackRunningStats { fields.append(("track_running_stats", .bool(false))) }
        return fields
    }
    /// ", no affine" / ", no running stats" for the summaries.
    var optionSummary: String { (affine ? "" : ", no affine") + (trackRunningStats ? "" : ", no running stats") }

    public var parameters: [Parameter] { affine ? [weight, bias] : [] }
    public var buffers: [(name: String, tensor: Tensor)] {
        guard trackRunningStats else { return [] }
        return [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", batchesTracked)]
    }

    /// Whether a forward in this mode takes batch statistics, which need more than one value per channel.
    public func usesBatchStatistics(training: Bool) -> Bool { training || !trackRunningStats }

    /// The batch mean and biased variance of channel `ch` from Σx and Σx² over `count` values;
    /// moves the running statistics when `update`.
    @inline(__always)
    private func batchStatistics(_ ch: Int, total: Double, squares: Double, count m: Double,
                                 update: Bool) -> (mean: Double, variance: Double) {
        let mean = total / m
        let variance = Swift.max(squares / m - mean * mean, 0)
        if update {
            let unbiased = m > 1 ? Float(variance * m / (m - 1)) : Float(variance)
            runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * Float(mean)
            runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * unbiased
        }
        return (mean, variance)
    }

    /// Starts a forward pass on `input` (nil when a fused step never stores it): keeps it for
    /// backward, says whether batch statistics are taken and whether the running ones move
    /// (counting the batch when they do).
    func beginForward(_ input: Tensor?, training: Bool) -> (batch: Bool, update: Bool) {
        self.input = input
        let batch = usesBatchStatistics(training: training)
        let update = training && trackRunningStats
        usedBatchStatistics = batch
        if update { batchesTracked.data[0] += 1 }
        return (batch, update)
    }

    public func forward(_ input: Tensor, context: ExecutionContext) -> Tensor {
        let n = batchSize(input), plane = n == 0 ? 1 : input.count / (n * channels)
        output.resize(input.shape)
        let (batch, update) = beginForward(input, training: context.training)
        if !planar {
            featureForward(input, batch: n, batchStatistics: batch, update: update, pool: context.pool)
        } else {
            planeForward(input, batch: n, plane: plane, batchStatistics: batch, update: update, pool: context.pool)
        }
        return output
    }

    public func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        guard let input else { return nil }
        let n = batchSize(dOut), plane = n == 0 ? 1 : dOut.count / (n * channels)
        if needInputGradient { dInput.resize(dOut.shape) }
        if !planar {
            featureBackward(dOut, input: input, batch: n, needInputGradient: needInputGradient)
        } else {
            planeBackward(dOut, input: input, batch: n, plane: plane, needInputGradient: needInputGradient,
                          pool: context.pool)
        }
        return needInputGradient ? dInput : nil
    }

    // MARK: Flat features (BatchNorm1d, M = 1): row by row

    private func featureForward(_ input: Tensor, batch n: Int, batchStatistics batch: Bool, update: Bool,
                                pool: ThreadPool?) {
        let f = channels, x = input.data, y = output.data, mean = batchMean.data, istd = inverseStd.data
        if batch {
            // Per feature Σx and Σx², exact in Double.
            var sum = [Double](repeating: 0, count: f), sumSq = [Double](repeating: 0, count: f)
            sum.withUnsafeMutableBufferPointer { s in
                sumSq.withUnsafeMutableBufferPointer { q in
                    kernels.featureSums(x, rows: n, features: f, sum: s.baseAddress!, squares: q.baseAddress!)
                }
            }
            for j in 0..<f {
                let (mu, variance) = batchStatistics(j, total: sum[j], squares: sumSq[j], count: Double(n), update: update)
                mean[j] = Float(mu)
                istd[j] = Float(1 / (variance + Double(eps)).squareRoot())
            }
        } else {
            useRunningStatistics()
        }
        // Each row by itself: the rows spread over the pool.
        let gamma = weight.value.data, beta = bias.value.data
        forEachRange(count: n, pool: n * f >= valuesWorthThreads ? pool : nil) { rows in
            kernels.featureNormalize(x + rows.lowerBound * f, y + rows.lowerBound * f, rows: rows.count, features: f,
                                     gamma: gamma, beta: beta, mean: mean, inverseStd: istd)
        }
    }

    /// μ and σ⁻¹ of the coming pass from the running statistics: σ⁻¹ = 1 / √(running var + ε).
    private func useRunningStatistics() {
        let mean = batchMean.data, istd = inverseStd.data
        for j in 0..<channels {
            mean[j] = runningMean.data[j]
            istd[j] = 1 / (runningVar.data[j] + eps).squareRoot()
        }
    }

    /// The eval-mode forward of BatchNorm1d (then a ReLU when `relu`) as a product's epilogue
    /// (`Linear.forward(_:finishing:into:pool:)`), or nil when eval mode takes batch statistics.
    /// The pointers stay valid until this layer's next pass. Keeps nothing for backward.
    func runningStatisticsEpilogue(relu: Bool) -> GemmEpilogue? {
        guard !planar, !usesBatchStatistics(training: false) else { return nil }
        useRunningStatistics()
        return GemmEpilogue(gamma: weight.value.data, beta: bias.value.data, mean: batchMean.data,
                            inverseStd: inverseStd.data, relu: relu)
    }

    private func featureBackward(_ dOut: Tensor, input: Tensor, batch n: Int, needInputGradient: Bool) {
        let f = channels, dy = dOut.data, x = input.data, mean = batchMean.data, istd = inverseStd.data
        var sumDy = [Float](repeating: 0, count: f), sumDyXh = [Float](repeating: 0, count: f)
        sumDy.withUnsafeMutableBufferPointer { s in
            sumDyXh.withUnsafeMutableBufferPointer { h in
                kernels.featureGradientSums(dy, x, rows: n, features: f, mean: mean, inverseStd: istd,
                                            sumDy: s.baseAddress!, sumDyXh: h.baseAddress!)
            }
        }
        if affine {
            for j in 0..<f {
                weight.grad.data[j] += sumDyXh[j]
                bias.grad.data[j] += sumDy[j]
            }
        }
        guard needInputGradient else { return }
        kernels.featureInputGradient(dy, x, dInput.data, rows: n, features: f, gamma: weight.value.data, mean: mean,
                                     inverseStd: istd, sumDy: sumDy, sumDyXh: sumDyXh, batchStatistics: usedBatchStatistics)
    }

    // MARK: Planes (BatchNorm2d, M = H·W): plane by plane in memory order, in 16 float lanes

    private func planeForward(_ input: Tensor, batch n: Int, plane: Int, batchStatistics batch: Bool, update: Bool,
                              pool: ThreadPool?) {
        let c = channels, x = input.data, y = output.data
        let coefficients = planeCoefficients(x, batch: n, plane: plane, batchStatistics: batch, update: update, pool: pool)
        forEachPlane(samples: n, channels: c, pool: pool) { index in
            let (scale, shift) = coefficients[index % c]
            kernels.planeScaleShift(x + index * plane, y + index * plane, samples: 1, stride: plane, plane: plane,
                                    scale: scale, shift: shift)
        }
    }

    /// The coefficients of y = x·scale + shift of every channel of planes x (N, C, plane), from
    /// the batch's statistics (each plane's Σx and Σx² in 16 float lanes, the planes read in
    /// memory order over the pool, then added per channel in Double in sample order; the running
    /// statistics move when `update`) or from the running ones. Keeps μ and σ⁻¹ for backward.
    func planeCoefficients(_ x: UnsafePointer<Float>, batch n: Int, plane: Int, batchStatistics batch: Bool,
                           update: Bool, pool: ThreadPool?) -> [(scale: Float, shift: Float)] {
        let c = channels
        if batch {
            planeSums.resize([2 * n * c])
            let sums = planeSums.data
            forEachPlane(samples: n, channels: c, pool: pool) { index in
                let (p, q) = kernels.sumAndSquares(x + index * plane, count: plane)
                sums[2 * index] = p
                sums[2 * index + 1] = q
            }
        }
        return (0..<c).map { ch in
            var sums: (total: Double, squares: Double)?
            if batch {
                var total = 0.0, squares = 0.0
                for s in 0..<n {
                    total += Double(planeSums.data[2 * (s * c + ch)])
                    squares += Double(planeSums.data[2 * (s * c + ch) + 1])
                }
                sums = (total, squares)
            }
            return planeCoefficients(ch, sums: sums, values: n * plane, update: update)
        }
    }

    /// `planeCoefficients` from each channel's (Σx, Σx²) over its `values` (N·H·W) inputs, known
    /// without reading x (`ConvolutionBlock`), or from the running statistics when `channelSums`
    /// is nil.
    func planeCoefficients(channelSums: [(total: Double, squares: Double)]?, values: Int,
                           update: Bool) -> [(scale: Float, shift: Float)] {
        (0..<channels).map { planeCoefficients($0, sums: channelSums?[$0], values: values, update: update) }
    }

    /// Channel `ch`'s μ and σ⁻¹ from its (Σx, Σx²) over `values` inputs (the batch's, moving the
    /// running statistics when `update`), or the running ones when `sums` is nil, kept for
    /// backward, and the coefficients of y = γ·(x − μ)·σ⁻¹ + β = x·scale + shift.
    private func planeCoefficients(_ ch: Int, sums: (total: Double, squares: Double)?, values: Int,
                                   update: Bool) -> (scale: Float, shift: Float) {
        var mean: Float, variance: Float
        if let sums {
            let stats = batchStatistics(ch, total: sums.total, squares: sums.squares, count: Double(values), update: update)
            mean = Float(stats.mean)
            variance = Float(stats.variance)
        } else {
            mean = runningMean.data[ch]
            variance = runningVar.data[ch]
        }
        let inv = 1 / (variance + eps).squareRoot()
        inverseStd.data[ch] = inv
        batchMean.data[ch] = mean
        let g = weight.value.data[ch]
        return (g * inv, bias.value.data[ch] - mean * inv * g)
    }

    private func planeBackward(_ dOut: Tensor, input: Tensor, batch n: Int, plane: Int, needInputGradient: Bool,
                               pool: ThreadPool?) {
        let c = channels, dy = dOut.data, x = input.data, dx = dInput.data
        let coefficients = planeGradients(batch: n, plane: plane, pool: pool) { planes, sums in
            for index in planes {
                let (p, q) = kernels.planeGradientSums(dy + index * plane, x + index * plane, samples: 1, stride: plane,
                                                       plane: plane)
                sums[2 * (index - planes.lowerBound)] = p
                sums[2 * (index - planes.lowerBound) + 1] = q
            }
        }
        guard needInputGradient else { return }
        forEachPlane(samples: n, channels: c, pool: pool) { index in
            let (k, c1, c0) = coefficients[index % c]
            kernels.planeInputGradient(dy + index * plane, x + index * plane, dx + index * plane, samples: 1, stride: plane,
                                       plane: plane, k: k, c1: c1, c0: c0)
        }
    }

    /// The backward of every channel of N planes of `plane` values: `planeSums(planes, sums)` writes
    /// the (Σdy, Σdy·x) of each plane s·C + c in `planes` (one sample's planes after another; called
    /// over the pool with the batch's samples spread over threads) at sums[2·(i − planes.lowerBound)];
    /// they are added per channel in sample order, dγ and dβ added, and the coefficients of
    /// dx = k·dy + x·c1 + c0 returned.
    func planeGradients(batch n: Int, plane: Int, pool: ThreadPool?,
                        _ planeSums: (_ planes: Range<Int>, _ sums: UnsafeMutablePointer<Float>) -> Void)
        -> [(k: Float, c1: Float, c0: Float)] {
        let c = channels
        self.planeSums.resize([2 * n * c])
        let sums = self.planeSums.data
        forEachRange(count: n, pool: pool) { samples in
            planeSums((samples.lowerBound * c)..<(samples.upperBound * c), sums + 2 * samples.lowerBound * c)
        }
        return (0..<c).map { ch in
            var sumDy: Float = 0, sumDyX: Float = 0
            for s in 0..<n {
                sumDy += sums[2 * (s * c + ch)]
                sumDyX += sums[2 * (s * c + ch) + 1]
            }
            return planeGradient(ch, sumDy: sumDy, sumDyX: sumDyX, values: n * plane)
        }
    }

    /// Channel `ch`'s backward from Σdy and Σdy·x over its `values` (N·H·W) inputs: adds dγ and
    /// dβ, and returns the coefficients of dx = k·dy + x·c1 + c0.
    ///
    /// Σdy·x̂ = σ⁻¹·(Σdy·x − μ·Σdy) (x̂ recomputed, not stored); with batch statistics
    /// dx = k·(dy − Σdy/M − x̂·Σdy·x̂/M), k = γ·σ⁻¹, M = `values`; with running ones dx = k·dy.
    private func planeGradient(_ ch: Int, sumDy: Float, sumDyX: Float, values: Int) -> (k: Float, c1: Float, c0: Float) {
        let inv = inverseStd.data[ch], mean = batchMean.data[ch], m = Float(values)
        let sumDyXh = inv * (sumDyX - mean * sumDy)
        if affine {
            weight.grad.data[ch] += sumDyXh
            bias.grad.data[ch] += sumDy
        }
        let k = weight.value.data[ch] * inv
        let meanDy = usedBatchStatistics ? sumDy / m : 0, meanDyXh = usedBatchStatistics ? sumDyXh / m : 0
        // k·(dy − meanDy − (x − μ)·σ⁻¹·meanDyXh) = k·dy + (x·c1 + c0)
        return (k, -k * inv * meanDyXh, -k * meanDy + k * mean * inv * meanDyXh)
    }
}
