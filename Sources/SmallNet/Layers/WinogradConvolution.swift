// A 3×3, stride-1, padding-1 convolution by Winograd's F(2×2, 3×3): 16 small GEMMs per chunk
// of samples in place of one GEMM 2.25 times larger.
import Glibc
import SmallNetKernels

/// The Winograd path of a `Conv2d` with a 3×3 kernel, stride 1, padding 1 and at least
/// `minimumInputChannels` input channels: its transformed weights, partial gradients and scratch.
///
/// Forward, per chunk of S samples (T = S·⌈H/2⌉·⌈W/2⌉ tiles): V = Bᵀ d B (16, Cin, T);
/// M_ξ (Cout, T) = U_ξ (Cout, Cin) · V_ξ for each of the 16 components ξ, with U = G g Gᵀ
/// (16, Cout, Cin); y = Aᵀ M A + b. Backward, the adjoints: dM = A dY Aᵀ (16, Cout, T);
/// dU_ξ (Cout, Cin) += dM_ξ · V_ξᵀ; dV_ξ (Cin, T) = U_ξᵀ · dM_ξ; dx = Σ B dV Bᵀ;
/// dg = Gᵀ dU G. The weight gradient is summed per fixed sample group, chunk by chunk, then over
/// the groups in order, so it does not depend on the thread count. Equal up to rounding to the
/// im2col + GEMM path (`Conv2d.winogradEnabled` off).
final class WinogradConvolution {
    let inChannels, outChannels: Int
    /// U (16, Cout, Cin) and Uᵀ per component (16, Cin, Cout), of the last forward pass's weights
    /// (those backward differentiates).
    private let transformed = Tensor(uncheckedShape: [0], count: 0)
    private let transformedT = Tensor(uncheckedShape: [0], count: 0)
    /// The weights those were computed from, bit for bit: inference on unchanged weights skips
    /// the transform (about 0.1 ms for 62 → 127 channels).
    private let transformedWeights = Tensor(uncheckedShape: [0], count: 0)
    /// Per share of the work (`forEachSampleGroup`): V, M or dM, dV, the transforms' scratch.
    /// Per sample group: partial dU (16, Cout, Cin), partial db.
    private var tiles: [Tensor] = [], products: [Tensor] = [], dTiles: [Tensor] = [], scratch: [Tensor] = []
    private var dTransformed: [Tensor] = [], dBias: [Tensor] = []

    /// Input channels from which the Winograd path pays: its forward GEMMs sum over Cin terms
    /// (im2col's over 9·Cin), and the transforms cost the same per channel whatever the count.
    /// Measured on the CNNs' layers (`smallnet profile`, one thread, forward + backward): 9 → 18
    /// and 14 → 26 channels 20–30 % slower than im2col + GEMM, 18 → 33 and 26 → 51 about the same,
    /// 22 → 44 18 % faster, 30 → 62, 44 → 84 and 62 → 127 20–30 % faster.
    static let minimumInputChannels = 20

    init(inChannels: Int, outChannels: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
    }

    /// Samples per chunk: at least 96 tiles, so that each GEMM has a few column panels (64 and
    /// 160 measured the same on the CNNs' layers).
    private func chunkSize(_ w: WinogradTiles) -> Int { Swift.max(1, (96 + w.tilesPerImage - 1) / w.tilesPerImage) }

    private func prepareScratch(_ w: WinogradTiles, groups: Int, shares: Int, backward: Bool) {
        let ld = WinogradTiles.rowStride(tiles: chunkSize(w) * w.tilesPerImage)
        growScratch(&tiles, groups: shares, shape: [16 * inChannels * ld])
        growScratch(&products, groups: shares, shape: [16 * outChannels * ld])
        growScratch(&scratch, groups: shares, shape: [w.scratchCount(samples: chunkSize(w))])
        if backward {
            growScratch(&dTiles, groups: shares, shape: [16 * inChannels * ld])
            growScratch(&dTransformed, groups: groups, shape: [16 * inChannels * outChannels])
            growScratch(&dBias, groups: groups, shape: [outChannels])
        }
    }

    /// y (N, Cout, H, W) = conv(x (N, Cin, H, W), weight (Cout, Cin, 3, 3)) + bias.
    func forward(weight: Parameter, bias: Tensor?, input x: UnsafePointer<Float>, height: Int, width: Int, batch n: Int,
                 output y: UnsafeMutablePointer<Float>, pool: ThreadPool?) {
        let w = WinogradTiles(channels: inChannels, height: height, width: width)
        let wOut = WinogradTiles(channels: outChannels, height: height, width: width)
        prepareScratch(w, groups: sampleGroupCount(n), shares: sampleGroupShares(batch: n, pool: pool), backward: false)
        transformWeightsIfChanged(weight.value)
        let cin = inChannels, cout = outChannels, inSize = cin * w.plane, outSize = cout * w.plane
        let u = transformed.data, b = bias.map { UnsafePointer($0.data) }
        forEachSampleChunk(batch: n, size: chunkSize(w), pool: pool) { _, chunk, share in
            let t = chunk.count * w.tilesPerImage, ld = WinogradTiles.rowStride(tiles: t)
            let v = self.tiles[share].data, m = self.products[share].data, scratch = self.scratch[share].data
            kernels.winogradInputTransform(w, images: x + chunk.lowerBound * inSize, samples: chunk.count,
                                           imageStride: inSize, into: v, ld: ld, scratch: scratch)
            for xi in 0..<16 {
                gemm(m: cout, n: t, k: cin, a: u + xi * cout * cin, lda: cin, b: v + xi * ld, ldb: 16 * ld,
                     c: m + xi * ld, ldc: 16 * ld, accumulate: false, pool: nil)
            }
            kernels.winogradOutputTransform(wOut, m: m, ld: ld, samples: chunk.count, bias: b, output: y + chunk.lowerBound * outSize,
                                            outputStride: outSize, scratch: scratch)
        }
    }

    /// dW += ∂L/∂W, db += Σ dy, and dx (N, Cin, H, W) = ∂L/∂x when `dInput` is given, for the
    /// last forward pass (its input x and its weights' transform).
    func backward(weight: Parameter, bias: Parameter?, input x: UnsafePointer<Float>, height: Int, width: Int, batch n: Int,
                  dOut dy: UnsafePointer<Float>, dInput dx: UnsafeMutablePointer<Float>?, pool: ThreadPool?) {
        let w = WinogradTiles(channels: inChannels, height: height, width: width)
        let wOut = WinogradTiles(channels: outChannels, height: height, width: width)
        let groups = sampleGroupCount(n)
        prepareScratch(w, groups: groups, shares: sampleGroupShares(batch: n, pool: pool), backward: true)
        let cin = inChannels, cout = outChannels, inSize = cin * w.plane, outSize = cout * w.plane
        for group in 0..<groups { dBias[group].fill(0) }
        let uT = transformedT.data, hasBias = bias != nil
        forEachSampleChunk(batch: n, size: chunkSize(w), pool: pool) { group, chunk, share in
            let t = chunk.count * w.tilesPerImage, ld = WinogradTiles.rowStride(tiles: t)
            let v = self.tiles[share].data, dm = self.products[share].data, dv = self.dTiles[share].data
            let scratch = self.scratch[share].data, dU = self.dTransformed[group].data
            let grad = dy + chunk.lowerBound * outSize
            kernels.winogradInputTransform(w, images: x + chunk.lowerBound * inSize, samples: chunk.count,
                                           imageStride: inSize, into: v, ld: ld, scratch: scratch)
            kernels.winogradOutputGradient(wOut, dOut: grad, samples: chunk.count, dOutStride: outSize, into: dm, ld: ld,
                                           scratch: scratch)
            // dU_ξ (Cout, Cin) += dM_ξ (Cout, T) · V_ξᵀ (T, Cin), from the group's first chunk on.
            let first = chunk.lowerBound == sampleGroup(group, of: groups, batch: n).lowerBound
            for xi in 0..<16 {
                gemm(GemmOperands(m: cout, n: cin, k: t, a: dm + xi * ld, lda: 16 * ld, b: v + xi * ld, ldb: 16 * ld,
                                  c: dU + xi * cout * cin, ldc: cin, accumulate: !first, bTransposed: true), pool: nil)
            }
            if hasBias {
                let db = self.dBias[group].data
                for j in 0..<chunk.count {
                    for o in 0..<cout { db[o] += kernels.sum(grad + j * outSize + o * w.plane, count: w.plane) }
                }
            }
            guard let dx else { return }
            for xi in 0..<16 {
                // dV_ξ (Cin, T) = U_ξᵀ (Cin, Cout) · dM_ξ (Cout, T)
                gemm(m: cin, n: t, k: cout, a: uT + xi * cin * cout, lda: cout, b: dm + xi * ld, ldb: 16 * ld,
                     c: dv + xi * ld, ldc: 16 * ld, accumulate: false, pool: nil)
            }
            kernels.winogradInputGradient(w, dv: dv, ld: ld, samples: chunk.count, dInput: dx + chunk.lowerBound * inSize,
                                          dInputStride: inSize, scratch: scratch)
        }
        let total = dTransformed[0].data, count = 16 * cin * cout
        for group in 1..<groups { kernels.addInPlace(total, dTransformed[group].data, count: count) }
        // dW[o, c] += Gᵀ dU G (3×3) for each dU = dU[·, o, c] (4×4).
        kernels.winogradWeightGradientTransform(total, count: cin * cout, into: weight.grad.data)
        if let bias { for group in 0..<groups { kernels.addInPlace(bias.grad.data, dBias[group].data, count: cout) } }
    }

    /// `transformWeights` unless `weight` holds the values it was last computed from.
    private func transformWeightsIfChanged(_ weight: Tensor) {
        let count = weight.count
        if transformedWeights.count == count, memcmp(transformedWeights.data, weight.data, count * 4) == 0 { return }
        transformedWeights.resize([count])
        transformedWeights.data.update(from: weight.data, count: count)
        transformWeights(weight.data)
    }

    /// U_ξ[o, c] = (G g Gᵀ)[ξ] for each kernel g = weight[o, c] (3×3), into `transformed`
    /// (16, Cout, Cin) and, each component transposed, `transformedT` (16, Cin, Cout).
    private func transformWeights(_ weight: UnsafePointer<Float>) {
        let cin = inChannels, cout = outChannels, component = cout * cin
        transformed.resize([16 * component])
        transformedT.resize([16 * component])
        let u = transformed.data, uT = transformedT.data
        kernels.winogradWeightTransform(weight, count: component, into: u)
        for xi in 0..<16 {
            kernels.transpose(rows: cout, cols: cin, src: u + xi * component, lds: cin, dst: uT + xi * component, ldd: cout)
        }
    }
}
