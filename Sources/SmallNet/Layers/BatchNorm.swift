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
/// Double and y = γ·x̂ + β; planes (BatchNorm2d) go channel by channel in 16 float lanes with
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

    /// Starts a forward pass on `input`: keeps it for backward, says whether batch statistics
    /// are taken and whether the running ones move (counting the batch when they do).
    func beginForward(_ input: Tensor, training: Bool) -> (batch: Bool, update: Bool) {
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
            featureForward(input, batch: n, batchStatistics: batch, update: update)
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

    private func featureForward(_ input: Tensor, batch n: Int, batchStatistics batch: Bool, update: Bool) {
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
            for j in 0..<f {
                mean[j] = runningMean.data[j]
                istd[j] = 1 / (runningVar.data[j] + eps).squareRoot()
            }
        }
        kernels.featureNormalize(x, y, rows: n, features: f, gamma: weight.value.data, beta: bias.value.data, mean: mean,
                                 inverseStd: istd)
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

    // MARK: Planes (BatchNorm2d, M = H·W): channel by channel, in 16 float lanes

    private func planeForward(_ input: Tensor, batch n: Int, plane: Int, batchStatistics batch: Bool, update: Bool,
                              pool: ThreadPool?) {
        let c = channels, x = input.data, y = output.data
        forEachRange(count: c, pool: pool) { range in
            for ch in range {
                let (scale, shift) = planeCoefficients(ch, x, batch: n, plane: plane, batchStatistics: batch, update: update)
                kernels.planeScaleShift(x + ch * plane, y + ch * plane, samples: n, stride: c * plane, plane: plane,
                                        scale: scale, shift: shift)
            }
        }
    }

    /// Channel `ch` of planes x (N, C, plane): its μ and σ⁻¹ (the batch's, moving the running
    /// statistics when `update`, or the running ones), kept for backward, and the coefficients
    /// of y = γ·(x − μ)·σ⁻¹ + β = x·scale + shift.
    func planeCoefficients(_ ch: Int, _ x: UnsafePointer<Float>, batch n: Int, plane: Int, batchStatistics batch: Bool,
                           update: Bool) -> (scale: Float, shift: Float) {
        // One pass: Σx and Σx² per plane in 16 float lanes, across planes in Double.
        let sums = batch ? kernels.planeStatistics(x + ch * plane, samples: n, stride: channels * plane, plane: plane) : nil
        return planeCoefficients(ch, sums: sums, values: n * plane, update: update)
    }

    /// `planeCoefficients` from channel `ch`'s (Σx, Σx²) over its `values` inputs as
    /// `planeStatistics` sums them, or from the running statistics when `sums` is nil.
    func planeCoefficients(_ ch: Int, sums: (total: Double, squares: Double)?, values: Int,
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
        forEachRange(count: c, pool: pool) { range in
            for ch in range {
                let (sumDy, sumDyX) = kernels.planeGradientSums(dy + ch * plane, x + ch * plane, samples: n,
                                                                stride: c * plane, plane: plane)
                let (k, c1, c0) = planeGradient(ch, sumDy: sumDy, sumDyX: sumDyX, values: n * plane)
                guard needInputGradient else { continue }
                kernels.planeInputGradient(dy + ch * plane, x + ch * plane, dx + ch * plane, samples: n, stride: c * plane,
                                           plane: plane, k: k, c1: c1, c0: c0)
            }
        }
    }

    /// Channel `ch`'s backward from Σdy and Σdy·x over its `values` (N·H·W) inputs: adds dγ and
    /// dβ, and returns the coefficients of dx = k·dy + x·c1 + c0.
    ///
    /// Σdy·x̂ = σ⁻¹·(Σdy·x − μ·Σdy) (x̂ recomputed, not stored); with batch statistics
    /// dx = k·(dy − Σdy/M − x̂·Σdy·x̂/M), k = γ·σ⁻¹, M = `values`; with running ones dx = k·dy.
    func planeGradient(_ ch: Int, sumDy: Float, sumDyX: Float, values: Int) -> (k: Float, c1: Float, c0: Float) {
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
