// Batch normalisation loops: planes of one channel (BatchNorm2d) and rows of features (BatchNorm1d).

extension Variant {
    // MARK: Planes: `samples` planes of `plane` floats, `stride` floats apart (one channel of N, C, H, W)

    /// y = x·scale + shift over the planes.
    public static func planeScaleShift(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, samples: Int,
                                       stride: Int, plane: Int, scale: Float, shift: Float) {
        let va = Vec16(repeating: scale), vb = Vec16(repeating: shift)
        for s in 0..<samples {
            let o = s * stride
            var i = 0
            while i + 16 <= plane { store16(load16(x + o + i) * va + vb, y + o + i); i += 16 }
            while i < plane { y[o + i] = x[o + i] * scale + shift; i += 1 }
        }
    }

    /// (Σdy, Σdy·x) over the planes, each in Float.
    public static func planeGradientSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, samples: Int,
                                         stride: Int, plane: Int) -> (Float, Float) {
        var sumDy: Float = 0, sumDyX: Float = 0
        for s in 0..<samples {
            let (partialDy, partialDyX) = sumAndDot(dy + s * stride, x + s * stride, count: plane)
            sumDy += partialDy
            sumDyX += partialDyX
        }
        return (sumDy, sumDyX)
    }

    /// dx = k·dy + (x·c1 + c0) over the planes.
    public static func planeInputGradient(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                          _ dx: UnsafeMutablePointer<Float>, samples: Int, stride: Int, plane: Int,
                                          k: Float, c1: Float, c0: Float) {
        let vk = Vec16(repeating: k), v1 = Vec16(repeating: c1), v0 = Vec16(repeating: c0)
        for s in 0..<samples {
            let o = s * stride
            var i = 0
            while i + 16 <= plane {
                store16(vk * load16(dy + o + i) + load16(x + o + i) * v1 + v0, dx + o + i)
                i += 16
            }
            while i < plane { dx[o + i] = k * dy[o + i] + x[o + i] * c1 + c0; i += 1 }
        }
    }

    // MARK: One plane followed by ReLU (`BatchNormReLU`): the kernels above and ReLU's, bit for bit

    /// y = max(0, x·scale + shift): `planeScaleShift` then `reluForward` on each value, the
    /// BatchNorm's output never stored.
    public static func planeScaleShiftReLU(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                                           scale: Float, shift: Float) {
        let va = Vec16(repeating: scale), vb = Vec16(repeating: shift), zero = Vec16()
        var i = 0
        while i + 16 <= count {
            let t = load16(x + i) * va + vb
            store16(t.replacing(with: 0, where: t .<= zero), y + i)
            i += 16
        }
        while i < count { let t = x[i] * scale + shift; y[i] = t <= 0 ? 0 : t; i += 1 }
    }

    /// (Σdz, Σdz·x) with dz = g where the ReLU's output y > 0, else 0 (NaN y passes g, as
    /// `reluBackward`'s vectors do): `reluBackward` then `sumAndDot`, dz never stored.
    public static func planeReLUGradientSums(_ g: UnsafePointer<Float>, relu y: UnsafePointer<Float>,
                                             _ x: UnsafePointer<Float>, count: Int) -> (Float, Float) {
        let zero = Vec16()
        var acc = Vec16(), accDot = Vec16()
        var i = 0
        while i + 16 <= count {
            let dz = load16(g + i).replacing(with: 0, where: load16(y + i) .<= zero)
            acc += dz
            accDot += dz * load16(x + i)
            i += 16
        }
        var s = laneSum(acc), d = laneSum(accDot)
        while i < count { let dz = y[i] <= 0 ? 0 : g[i]; s += dz; d += dz * x[i]; i += 1 }
        return (s, d)
    }

    /// dx = k·dz + (x·c1 + c0), dz as in `planeReLUGradientSums`: `reluBackward` then
    /// `planeInputGradient`.
    public static func planeReLUInputGradient(_ g: UnsafePointer<Float>, relu y: UnsafePointer<Float>,
                                              _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int,
                                              k: Float, c1: Float, c0: Float) {
        let vk = Vec16(repeating: k), v1 = Vec16(repeating: c1), v0 = Vec16(repeating: c0), zero = Vec16()
        var i = 0
        while i + 16 <= count {
            let dz = load16(g + i).replacing(with: 0, where: load16(y + i) .<= zero)
            store16(vk * dz + load16(x + i) * v1 + v0, dx + i)
            i += 16
        }
        while i < count { let dz = y[i] <= 0 ? 0 : g[i]; dx[i] = k * dz + x[i] * c1 + c0; i += 1 }
    }

    // MARK: Rows: x (N, F), one statistic per feature

    /// sum[j] += Σ_i x[i, j], squares[j] += Σ_i x[i, j]², in Double.
    public static func featureSums(_ x: UnsafePointer<Float>, rows n: Int, features f: Int,
                                   sum: UnsafeMutablePointer<Double>, squares: UnsafeMutablePointer<Double>) {
        for i in 0..<n {
            let row = x + i * f
            for j in 0..<f { let v = Double(row[j]); sum[j] += v; squares[j] += v * v }
        }
    }

    /// y[i, j] = γ[j]·((x[i, j] − μ[j])·σ⁻¹[j]) + β[j].
    public static func featureNormalize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows n: Int,
                                        features f: Int, gamma g: UnsafePointer<Float>, beta b: UnsafePointer<Float>,
                                        mean: UnsafePointer<Float>, inverseStd istd: UnsafePointer<Float>) {
        for i in 0..<n {
            let row = x + i * f, yr = y + i * f
            for j in 0..<f { yr[j] = g[j] * ((row[j] - mean[j]) * istd[j]) + b[j] }
        }
    }

    /// sumDy[j] += Σ_i dy[i, j], sumDyXh[j] += Σ_i dy[i, j]·x̂[i, j], x̂ = (x − μ)·σ⁻¹, in Float.
    public static func featureGradientSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, rows n: Int,
                                           features f: Int, mean: UnsafePointer<Float>,
                                           inverseStd istd: UnsafePointer<Float>, sumDy: UnsafeMutablePointer<Float>,
                                           sumDyXh: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
            let d = dy + i * f, row = x + i * f
            for j in 0..<f { sumDy[j] += d[j]; sumDyXh[j] += d[j] * ((row[j] - mean[j]) * istd[j]) }
        }
    }

    /// dx = γσ⁻¹·(dy − Σdy/N − x̂·Σdy·x̂/N) with batch statistics, else dx = γσ⁻¹·dy.
    public static func featureInputGradient(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                            _ dx: UnsafeMutablePointer<Float>, rows n: Int, features f: Int,
                                            gamma g: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                            inverseStd istd: UnsafePointer<Float>, sumDy: UnsafePointer<Float>,
                                            sumDyXh: UnsafePointer<Float>, batchStatistics: Bool) {
        if batchStatistics {
            let invN = 1 / Float(n)
            for i in 0..<n {
                let d = dy + i * f, row = x + i * f, o = dx + i * f
                for j in 0..<f {
                    let xh = (row[j] - mean[j]) * istd[j]
                    o[j] = g[j] * istd[j] * (d[j] - invN * sumDy[j] - xh * invN * sumDyXh[j])
                }
            }
        } else {
            for i in 0..<n {
                let d = dy + i * f, o = dx + i * f
                for j in 0..<f { o[j] = g[j] * istd[j] * d[j] }
            }
        }
    }
}
