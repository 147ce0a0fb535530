// The dispatch table: every hot loop of the engine, implemented once per instruction set.

/// The engine's hot loops. Each kernel variant module (SmallNetKernelsAVX512,
/// SmallNetKernelsAVX2, SmallNetKernelsBaseline) compiles the same Swift sources
/// (Sources/Kernels) for its instruction set into a type `Variant` conforming to this protocol;
/// SmallNet takes one of them by CPUID when first used (see `ISAChoice`) and calls nothing else
/// that needs more than the baseline. The protocol's witness table is the dispatch table.
///
/// Every variant sums in the same order. Where the AVX2 and AVX-512 variants fuse a product
/// into a sum (FMA: the GEMM and the direct convolution), the baseline, which has no FMA,
/// rounds the product first; everything else is the same arithmetic in every variant.
/// Loops over a whole number of 16-float vectors (the optimizer updates) may read and write
/// the zero padding every tensor has.
public protocol Kernels {
    /// The instruction set this variant is compiled for.
    static var isa: ISA { get }
    /// The width of the GEMM's vector registers in bits (512, 256 or 128).
    static var vectorBits: Int { get }

    // MARK: GEMM

    /// Rows (MR) and columns (NR) of C one micro-kernel call computes, and the depth of a K block.
    static var gemmTile: (rows: Int, columns: Int, depth: Int) { get }
    /// Row tiles of an M-row C: of `gemmTile.rows` rows, then of one row fewer to end at M.
    static func gemmRowTileCount(_ m: Int) -> Int
    /// C = A·B (or +=) for the row tiles `rows` (of `gemmRowTileCount`) and column panels `panels`
    /// (of `gemmTile.columns`), over all of K.
    static func gemmBlock(_ o: GemmOperands, rows: Range<Int>, panels: Range<Int>)
    /// Packs B (K, N) for `gemmBlock` with `bPacked`: panel p (columns p·NR..<(p + 1)·NR) as K rows
    /// of NR floats, 0 past N, the panels one after another (⌈N / NR⌉·K·NR floats). B's columns
    /// come in segments of `segment`, segment s at b + s·`segmentStride`, rows `ldb` apart; or,
    /// when `transposed`, b holds Bᵀ (N, K) with K in such segments (rows of Bᵀ `ldb` apart).
    static func packB(k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, transposed: Bool, segment: Int,
                      segmentStride: Int, into dst: UnsafeMutablePointer<Float>)
    /// y (n, m) = x (n, k) · wᵀ (+ bias), w (m, k): row-by-row dot products in 16 lanes, for a
    /// few rows of x; rows of y `ldy` apart.
    static func rowDots(_ x: UnsafePointer<Float>, rows: Int, weights: UnsafePointer<Float>, outputs: Int, depth: Int,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, ldy: Int)
    /// dst (cols, rows) = srcᵀ, with src (rows, cols).
    static func transpose(rows: Int, cols: Int, src: UnsafePointer<Float>, lds: Int, dst: UnsafeMutablePointer<Float>, ldd: Int)

    // MARK: Convolution

    /// col (C·kh·kw, Ho·Wo; rows `ld` apart) ← the patches of image (C, H, W), 0 outside it.
    static func im2col(_ g: WindowGeometry, image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, ld: Int)
    /// The im2col matrices of `samples` images (`imageStride` apart) side by side, written as
    /// `packB` packs a (C·kh·kw, S·H·W) B operand; for planes that `shiftsWithinPlane`, of at most
    /// `WindowGeometry.smallPlane` values.
    static func packedIm2col(_ g: WindowGeometry, images: UnsafePointer<Float>, samples: Int, imageStride: Int,
                             into packed: UnsafeMutablePointer<Float>)
    /// image (C, H, W) += the columns of col scattered back: the adjoint of `im2col` (may zero
    /// col's out-of-image entries).
    static func col2im(_ g: WindowGeometry, col: UnsafeMutablePointer<Float>, ld: Int, image: UnsafeMutablePointer<Float>)
    /// `im2col` and `col2im` with dilated taps (rows `outPlane` apart).
    static func dilatedIm2col(_ g: DilatedWindow, image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>)
    static func dilatedCol2im(_ g: DilatedWindow, col: UnsafePointer<Float>, image: UnsafeMutablePointer<Float>)
    /// Writes the k shifted planes of `image` (H, W) into `planes` (`s.scratchCount` floats).
    static func fillShiftedPlanes(_ s: ShiftedPlanes, image: UnsafePointer<Float>, planes: UnsafeMutablePointer<Float>)
    /// y (Cout, H·W) = b + Σ_t w[·, t] · tap_t, weight (Cout, k·k).
    static func directConvolutionForward(_ s: ShiftedPlanes, planes: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                         bias: UnsafePointer<Float>?, outChannels: Int, output: UnsafeMutablePointer<Float>)
    /// dWᵀ (k·k, Cout) += Σ_q tap_t[q] · dy[·, q], dy (Cout, H·W), for `image` (H, W), with
    /// `s.scratchCount` floats of `scratch`: each sum in 16 lanes of pixels, then across them.
    static func directConvolutionWeightGradient(_ s: ShiftedPlanes, image: UnsafePointer<Float>,
                                                scratch: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                                outChannels: Int, dWeightT: UnsafeMutablePointer<Float>)

    /// The sums (9) and products (9 × 9) over the pixels of one image's taps of a 3×3 kernel,
    /// from `fillShiftedPlanes`' planes.
    static func tapMoments(_ s: ShiftedPlanes, planes: UnsafePointer<Float>, sums: UnsafeMutablePointer<Float>,
                           products: UnsafeMutablePointer<Float>)

    /// The 16 grids of `PhaseGrids` from one image.
    static func fillPhaseGrids(_ g: PhaseGrids, image: UnsafePointer<Float>, grids: UnsafeMutablePointer<Float>)
    /// Every channel of one sample through a 3×3 convolution, y = x·scale + shift, ReLU and a 2×2
    /// max-pool, on the phase grids: the pooled output and each window's position code (the
    /// maximum's phase, or `PhaseGrids.noGradient`) (C planes of `g.windows`); `coefficients`
    /// (scale, shift) per channel.
    static func phaseConvolutionReLUMaxPool(_ g: PhaseGrids, grids: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                            outChannels: Int, coefficients: UnsafePointer<Float>,
                                            output: UnsafeMutablePointer<Float>, position: UnsafeMutablePointer<UInt8>)
    /// Its weight gradient through the pool and ReLU from the pooled gradient and the position
    /// codes: dWᵀ (9, C) += the sums, and Σ of the gradient ReLU passes per channel into `sums` (C).
    static func phaseWeightGradient(_ g: PhaseGrids, grids: UnsafePointer<Float>, gradient: UnsafePointer<Float>,
                                    position: UnsafePointer<UInt8>, outChannels: Int,
                                    dWeightT: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>)

    // MARK: Winograd F(2×2, 3×3) transforms (layouts in `WinogradTiles`), with
    // `w.scratchCount(samples:)` floats of scratch

    /// V (16·C rows of `ld` ≥ `WinogradTiles.rowStride(tiles: T)`) ← Bᵀ d B for the tiles of
    /// `samples` images (C, H, W), `imageStride` apart.
    static func winogradInputTransform(_ w: WinogradTiles, images: UnsafePointer<Float>, samples: Int,
                                       imageStride: Int, into v: UnsafeMutablePointer<Float>, ld: Int,
                                       scratch: UnsafeMutablePointer<Float>)
    /// y (C, H, W) per sample (`outputStride` apart) = Aᵀ M A (+ bias), M (16·C rows of `ld`).
    static func winogradOutputTransform(_ w: WinogradTiles, m: UnsafePointer<Float>, ld: Int, samples: Int,
                                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                                        outputStride: Int, scratch: UnsafeMutablePointer<Float>)
    /// dM (16·C rows of `ld`) ← A dY Aᵀ for the output gradient (C, H, W) per sample: the
    /// adjoint of `winogradOutputTransform`.
    static func winogradOutputGradient(_ w: WinogradTiles, dOut: UnsafePointer<Float>, samples: Int,
                                       dOutStride: Int, into dm: UnsafeMutablePointer<Float>, ld: Int,
                                       scratch: UnsafeMutablePointer<Float>)
    /// dx (C, H, W) per sample ← Σ over tiles of B dV Bᵀ: the adjoint of `winogradInputTransform`.
    static func winogradInputGradient(_ w: WinogradTiles, dv: UnsafePointer<Float>, ld: Int, samples: Int,
                                      dInput: UnsafeMutablePointer<Float>, dInputStride: Int,
                                      scratch: UnsafeMutablePointer<Float>)
    /// U (16 components `count` floats apart) ← G g Gᵀ for `count` 3×3 kernels (9 floats each).
    static func winogradWeightTransform(_ weight: UnsafePointer<Float>, count: Int, into u: UnsafeMutablePointer<Float>)
    /// dW (`count` 3×3 kernels) += Gᵀ dU G: the adjoint of `winogradWeightTransform`.
    static func winogradWeightGradientTransform(_ du: UnsafePointer<Float>, count: Int, into dW: UnsafeMutablePointer<Float>)

    // MARK: Element-wise, over `count` floats

    static func copy(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int)
    /// y += x.
    static func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int)
    /// Σx, in 16 lanes then across them.
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float
    /// (Σx, Σx·y).
    static func sumAndDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> (Float, Float)
    /// (Σx, Σx²).
    static func sumAndSquares(_ x: UnsafePointer<Float>, count: Int) -> (Float, Float)
    /// ReLU from its input x, and its gradient from its output y.
    static func reluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int)
    static func reluBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int)
    /// LeakyReLU, forward and backward from its input x.
    static func leakyReLUForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, slope: Float)
    static func leakyReLUBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                  count: Int, slope: Float)
    /// The gradients of tanh and the sigmoid from their outputs y.
    static func tanhBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count: Int)
    static func sigmoidBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                count: Int)

    // MARK: Pooling, one (H, W) plane, no padding

    /// k×k, stride-s max pooling: the maxima and their positions i·k + j in the window.
    static func maxPoolPlane(_ x: UnsafePointer<Float>, width: Int, kernel: Int, stride: Int, outHeight: Int, outWidth: Int,
                             output: UnsafeMutablePointer<Float>, position: UnsafeMutablePointer<UInt8>)
    static func maxPoolPlaneBackward(_ dy: UnsafePointer<Float>, position: UnsafePointer<UInt8>, kernel: Int, stride: Int,
                                     outHeight: Int, outWidth: Int, height: Int, width: Int, dInput: UnsafeMutablePointer<Float>)
    /// The same for 2×2 windows, stride 2.
    static func maxPool2x2(_ x: UnsafePointer<Float>, width: Int, outHeight: Int, outWidth: Int,
                           output: UnsafeMutablePointer<Float>, position: UnsafeMutablePointer<UInt8>)
    static func maxPool2x2Backward(_ dy: UnsafePointer<Float>, position: UnsafePointer<UInt8>, outHeight: Int, outWidth: Int,
                                   height: Int, width: Int, dInput: UnsafeMutablePointer<Float>)
    /// `maxPool2x2` of max(0, x·scale + shift), computed as x is read: BatchNorm → ReLU → pool
    /// forward on one plane.
    static func scaleShiftReLUMaxPool2x2(_ x: UnsafePointer<Float>, width: Int, outHeight: Int, outWidth: Int,
                                         scale: Float, shift: Float, output: UnsafeMutablePointer<Float>,
                                         position: UnsafeMutablePointer<UInt8>)
    /// dx = k·dz + (x·c1 + c0), dz the pooled gradient g passed by ReLU (where the pooled y > 0)
    /// and spread to the windows' maxima: the block's BatchNorm input gradient on one plane.
    static func pooledReLUInputGradient(_ g: UnsafePointer<Float>, pooled: UnsafePointer<Float>,
                                        position: UnsafePointer<UInt8>, outHeight: Int, outWidth: Int, height: Int,
                                        width: Int, input: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>,
                                        k: Float, c1: Float, c0: Float)
    /// k×k, stride-s average pooling, y = (Σ window)·scale, and its adjoint.
    static func avgPoolPlane(_ x: UnsafePointer<Float>, width: Int, kernel: Int, stride: Int, outHeight: Int, outWidth: Int,
                             scale: Float, output: UnsafeMutablePointer<Float>)
    static func avgPoolPlaneBackward(_ dy: UnsafePointer<Float>, kernel: Int, stride: Int, outHeight: Int, outWidth: Int,
                                     height: Int, width: Int, scale: Float, dInput: UnsafeMutablePointer<Float>)

    // MARK: Batch normalisation

    /// y = x·scale + shift over one channel's planes.
    static func planeScaleShift(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, samples: Int, stride: Int,
                                plane: Int, scale: Float, shift: Float)
    /// (Σdy, Σdy·x) over one channel's planes.
    static func planeGradientSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, samples: Int, stride: Int,
                                  plane: Int) -> (Float, Float)
    /// dx = k·dy + (x·c1 + c0) over one channel's planes.
    static func planeInputGradient(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                   samples: Int, stride: Int, plane: Int, k: Float, c1: Float, c0: Float)
    /// The same three on one plane followed by ReLU, whose output y is max(0, x·scale + shift):
    /// y itself; (Σdz, Σdz·x) and dx = k·dz + (x·c1 + c0), dz = g where y > 0, else 0, from the
    /// gradient g at y.
    static func planeScaleShiftReLU(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, scale: Float,
                                    shift: Float)
    static func planeReLUGradientSums(_ g: UnsafePointer<Float>, relu y: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                      count: Int) -> (Float, Float)
    static func planeReLUInputGradient(_ g: UnsafePointer<Float>, relu y: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                       _ dx: UnsafeMutablePointer<Float>, count: Int, k: Float, c1: Float, c0: Float)
    /// Rows x (N, F): sum[j] += Σx, squares[j] += Σx², in Double.
    static func featureSums(_ x: UnsafePointer<Float>, rows: Int, features: Int, sum: UnsafeMutablePointer<Double>,
                            squares: UnsafeMutablePointer<Double>)
    /// y = γ·((x − μ)·σ⁻¹) + β per feature.
    static func featureNormalize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, features: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                 inverseStd: UnsafePointer<Float>)
    /// sumDy[j] += Σdy, sumDyXh[j] += Σdy·x̂ per feature.
    static func featureGradientSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, features: Int,
                                    mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
                                    sumDy: UnsafeMutablePointer<Float>, sumDyXh: UnsafeMutablePointer<Float>)
    /// dx = γσ⁻¹·(dy − Σdy/N − x̂·Σdy·x̂/N) with batch statistics, else γσ⁻¹·dy.
    static func featureInputGradient(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                     rows: Int, features: Int, gamma: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                     inverseStd: UnsafePointer<Float>, sumDy: UnsafePointer<Float>,
                                     sumDyXh: UnsafePointer<Float>, batchStatistics: Bool)

    // MARK: Data

    /// y = Float(x)·scale + shift over `count` raw 8-bit pixels.
    static func convertBytes(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, count: Int, scale: Float,
                             shift: Float)
    /// SHA-256's compression function over `count` 64-byte blocks, updating the eight-word `state`.
    static func sha256Blocks(_ state: UnsafeMutablePointer<UInt32>, _ blocks: UnsafePointer<UInt8>, count: Int)

    // MARK: The vector units' limit

    /// `iterations` rounds of 12 independent multiply-add chains on vectors of `vectorBits`,
    /// from registers only (2 · 12 · vectorBits/32 FLOPs per round); returns their sum.
    static func fmaChains(iterations: Int, seed: Float) -> Float

    // MARK: Optimizer updates, over `count` floats of one parameter (whole vectors)

    /// SGD with its momentum buffer `b` (nil without momentum).
    static func sgdUpdate(_ h: SGDStep, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                          _ b: UnsafeMutablePointer<Float>?, count: Int)
    /// Adam and AdamW with their moments m and v, and AMSGrad's largest v so far (nil without).
    static func adamUpdate(_ h: AdamStep, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                           _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                           _ vMax: UnsafeMutablePointer<Float>?, count: Int)
    /// RMSProp with its square average s, gradient average (centered only) and momentum buffer.
    static func rmspropUpdate(_ h: RMSPropStep, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                              _ s: UnsafeMutablePointer<Float>, _ gAvg: UnsafeMutablePointer<Float>?,
                              _ b: UnsafeMutablePointer<Float>?, count: Int)
    /// Adagrad with its sum of squared gradients s.
    static func adagradUpdate(_ h: AdagradStep, _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                              _ s: UnsafeMutablePointer<Float>, count: Int)
}

extension Kernels {
    /// Floats `packB` writes for a B of (K, N): ⌈N / NR⌉ panels of K·NR.
    public static func packedBCount(k: Int, n: Int) -> Int {
        let panel = gemmTile.columns
        return (n + panel - 1) / panel * k * panel
    }
}
