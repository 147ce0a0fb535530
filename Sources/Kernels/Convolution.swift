// Convolution kernels: im2col and col2im (convolution as a matrix product, one sample at a time),
// and the direct convolution of single-channel images.
import SmallNetKernels

extension Variant {
    /// col (C·kh·kw, Ho·Wo) ← the patches of image (C, H, W); out-of-image taps are 0.
    /// Row (c, i, j), column (oy, ox) holds image[c][oy·s + i − p][ox·s + j − p]; rows are `ld`
    /// floats apart (ld ≥ Ho·Wo, so several samples' columns can sit side by side).
    public static func im2col(_ g: WindowGeometry, image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>,
                              ld: Int) {
        if g.shiftsWithinPlane {
            if g.inPlane <= WindowGeometry.smallPlane { return im2colSmallPlane(g, image: image, col: col, ld: ld) }
            return im2colSameShape(g, image: image, col: col, ld: ld)
        }
        let wo = g.outWidth, ho = g.outHeight, s = g.stride
        for c in 0..<g.channels {
            let plane = image + c * g.inPlane
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    let row = col + ((c * g.kernelHeight + i) * g.kernelWidth + j) * ld
                    let valid = g.validColumns(j)
                    for oy in 0..<ho {
                        let dst = row + oy * wo
                        let y = oy * s + i - g.padding
                        guard y >= 0 && y < g.height else { dst.update(repeating: 0, count: wo); continue }
                        let src = plane + y * g.width + j - g.padding
                        if valid.lowerBound > 0 { dst.update(repeating: 0, count: valid.lowerBound) }
                        if s == 1 {
                            copy(dst + valid.lowerBound, src + valid.lowerBound, count: valid.count)
                        } else {
                            for ox in valid { dst[ox] = src[ox * s] }
                        }
                        if valid.upperBound < wo { (dst + valid.upperBound).update(repeating: 0, count: wo - valid.upperBound) }
                    }
                }
            }
        }
    }

    /// image (C, H, W) += the columns of col (C·kh·kw, Ho·Wo; rows `ld` floats apart) scattered
    /// back to their pixels: the adjoint of `im2col`.
    public static func col2im(_ g: WindowGeometry, col: UnsafeMutablePointer<Float>, ld: Int,
                              image: UnsafeMutablePointer<Float>) {
        if g.shiftsWithinPlane {
            if g.inPlane <= WindowGeometry.smallPlane { return col2imSmallPlane(g, col: col, ld: ld, image: image) }
            return col2imSameShape(g, col: col, ld: ld, image: image)
        }
        let wo = g.outWidth, ho = g.outHeight, s = g.stride
        for c in 0..<g.channels {
            let plane = image + c * g.inPlane
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    let row = col + ((c * g.kernelHeight + i) * g.kernelWidth + j) * ld
                    let valid = g.validColumns(j)
                    for oy in 0..<ho {
                        let y = oy * s + i - g.padding
                        guard y >= 0 && y < g.height else { continue }
                        let src = row + oy * wo
                        let dst = plane + y * g.width + j - g.padding
                        if s == 1 {
                            addInPlace(dst + valid.lowerBound, src + valid.lowerBound, count: valid.count)
                        } else {
                            for ox in valid { dst[ox * s] += src[ox] }
                        }
                    }
                }
            }
        }
    }

    // MARK: Stride 1 and "same" padding (`WindowGeometry.shiftsWithinPlane`; other planes take
    // the general path above)

    /// The rows of one im2col matrix for a kernel tap (dy, dx) = (i − p, j − p) under "same"
    /// padding: output rows `rows` read image rows shifted by dy; within the flattened plane the
    /// tap is one contiguous shift by dy·W + dx, except `dx` columns at one edge that fall outside.
    @inline(__always)
    private static func sameShapeTap(_ g: WindowGeometry, _ i: Int,
                                     _ j: Int) -> (rows: Range<Int>, shift: Int, dx: Int) {
        let dy = i - g.padding, dx = j - g.padding
        let rows = Swift.max(0, -dy)..<Swift.min(g.height, g.height - dy)
        return (rows, dy * g.width + dx, dx)
    }

    /// Sets to 0 the `|dx|` columns of a tap's rows that fall outside the image (left for dx < 0,
    /// right for dx > 0).
    @inline(__always)
    private static func zeroOutsideColumns(_ row: UnsafeMutablePointer<Float>,
                                           _ tap: (rows: Range<Int>, shift: Int, dx: Int), width w: Int) {
        guard tap.dx != 0 else { return }
        let edge = tap.dx < 0 ? 0..<(-tap.dx) : (w - tap.dx)..<w
        for y in tap.rows { for x in edge { row[y * w + x] = 0 } }
    }

    /// `im2col` for stride 1 and "same" padding: one shifted copy per kernel tap, then the few
    /// out-of-image columns set to 0.
    private static func im2colSameShape(_ g: WindowGeometry, image: UnsafePointer<Float>,
                                        col: UnsafeMutablePointer<Float>, ld: Int) {
        let w = g.width, plane = g.inPlane
        for c in 0..<g.channels {
            let src = image + c * plane
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    let row = col + ((c * g.kernelHeight + i) * g.kernelWidth + j) * ld
                    let tap = sameShapeTap(g, i, j)
                    let first = tap.rows.lowerBound * w, end = tap.rows.upperBound * w
                    if first > 0 { row.update(repeating: 0, count: first) }
                    if end < plane { (row + end).update(repeating: 0, count: plane - end) }
                    // Copy [first + lo, end − hi): every source index stays inside the plane.
                    let lo = Swift.max(0, -tap.dx), hi = Swift.max(0, tap.dx)
                    copy(row + first + lo, src + first + lo + tap.shift, count: end - first - lo - hi)
                    zeroOutsideColumns(row, tap, width: w)
                }
            }
        }
    }

    /// `col2im` for stride 1 and "same" padding: zero each tap's out-of-image columns in `col`,
    /// then one shifted add per tap.
    private static func col2imSameShape(_ g: WindowGeometry, col: UnsafeMutablePointer<Float>, ld: Int,
                                        image: UnsafeMutablePointer<Float>) {
        let w = g.width, plane = g.inPlane
        for c in 0..<g.channels {
            let dst = image + c * plane
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    let row = col + ((c * g.kernelHeight + i) * g.kernelWidth + j) * ld
                    let tap = sameShapeTap(g, i, j)
                    zeroOutsideColumns(row, tap, width: w)
                    let first = tap.rows.lowerBound * w, end = tap.rows.upperBound * w
                    let lo = Swift.max(0, -tap.dx), hi = Swift.max(0, tap.dx)
                    addInPlace(dst + first + lo + tap.shift, row + first + lo, count: end - first - lo - hi)
                }
            }
        }
    }

    // MARK: Small planes, stride 1 and "same" padding

    /// Calls `body(masks, bordered, border)` with the tap masks of a "same" window over `samples`
    /// planes side by side: for tap t = i·k + j, masks[t·n + s·H·W + q] is all ones where pixel q
    /// shifted by the tap (i − p, j − p) is inside the image, else 0, n = `columns` (by default
    /// the planes rounded up to whole 16-value vectors; 0 past the planes); and a scratch of n
    /// values with `border` values of zeros on each side. Each mask is a run of whole rows, each
    /// row a run of columns: no division per pixel.
    @inline(__always)
    private static func withSameTapMasks(_ g: WindowGeometry, samples: Int = 1, columns: Int? = nil,
                                         _ body: (UnsafePointer<UInt32>, UnsafeMutablePointer<Float>, Int) -> Void) {
        let w = g.width, h = g.height, plane = g.inPlane, p = g.padding, k = 2 * p + 1
        let padded = columns ?? ((samples * plane + 15) & ~15), border = p * w + p
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: k * k * padded) { buffer in
            let masks = buffer.baseAddress!
            masks.initialize(repeating: 0, count: k * k * padded)
            for i in 0..<k {
                let dy = i - p
                for j in 0..<k {
                    let dx = j - p, columns = Swift.max(0, -dx)..<Swift.min(w, w - dx)
                    for s in 0..<samples {
                        let mask = masks + (i * k + j) * padded + s * plane
                        for y in Swift.max(0, -dy)..<Swift.min(h, h - dy) {
                            (mask + y * w + columns.lowerBound).update(repeating: ~0, count: columns.count)
                        }
                    }
                }
            }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: border + padded + border) { scratch in
                let bordered = scratch.baseAddress!
                bordered.initialize(repeating: 0, count: border + padded + border)
                body(masks, bordered, border)
            }
        }
    }

    /// Calls `body(row, shift, mask)` for each tap (i, j) of channel c of a "same" window, in
    /// order: its row of col, the shift (i − p)·W + (j − p) of its pixels within the plane, and its
    /// mask (from `withSameTapMasks`).
    @inline(__always)
    private static func forEachSameTap(_ g: WindowGeometry, channel c: Int, col: UnsafeMutablePointer<Float>, ld: Int,
                                       _ masks: UnsafePointer<UInt32>,
                                       _ body: (UnsafeMutablePointer<Float>, Int, UnsafePointer<UInt32>) -> Void) {
        let w = g.width, p = g.padding, k = 2 * p + 1, padded = (g.inPlane + 15) & ~15
        for i in 0..<k {
            for j in 0..<k {
                body(col + ((c * k + i) * k + j) * ld, (i - p) * w + (j - p), masks + (i * k + j) * padded)
            }
        }
    }

    /// 16 floats at p with the bits of those whose mask is 0 cleared (to +0).
    @inline(__always)
    private static func masked16(_ p: UnsafePointer<Float>, _ mask: UnsafePointer<UInt32>) -> Vec16 {
        let bits = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt32>.self)
            & UnsafeRawPointer(mask).loadUnaligned(as: SIMD16<UInt32>.self)
        return unsafeBitCast(bits, to: Vec16.self)
    }

    /// `im2colSameShape` for planes of at most `WindowGeometry.smallPlane` values: each channel's plane copied
    /// once into a zero-bordered scratch, then each tap's row written in whole vectors with the
    /// out-of-image taps masked to 0 (the last plane mod 16 values one by one).
    private static func im2colSmallPlane(_ g: WindowGeometry, image: UnsafePointer<Float>,
                                         col: UnsafeMutablePointer<Float>, ld: Int) {
        let plane = g.inPlane, whole = plane & ~15
        withSameTapMasks(g) { masks, bordered, border in
            let center = bordered + border
            for c in 0..<g.channels {
                copy(center, image + c * plane, count: plane)
                forEachSameTap(g, channel: c, col: col, ld: ld, masks) { row, shift, mask in
                    var q = 0
                    while q < whole {
                        store16(masked16(center + q + shift, mask + q), row + q)
                        q += 16
                    }
                    while q < plane { row[q] = mask[q] != 0 ? center[q + shift] : 0; q += 1 }
                }
            }
        }
    }

    /// The im2col matrices of `samples` images (C, H, W), `imageStride` floats apart, side by side
    /// (column s·H·W + q: sample s's pixel q), written straight in the packed layout of `packB`
    /// (panels of `gemmNR` columns, each its K = C·k·k rows of `gemmNR` floats, zeros past the
    /// last column): the GEMM's B operand without the matrix in between. For planes that
    /// `shiftsWithinPlane`, of at most `WindowGeometry.smallPlane` values: each channel's planes copied once into
    /// a zero-bordered scratch, then each tap's rows written in whole vectors with the
    /// out-of-image taps masked to 0 (a tap that reaches a neighbouring sample's plane is out of
    /// its own image).
    public static func packedIm2col(_ g: WindowGeometry, images: UnsafePointer<Float>, samples: Int, imageStride: Int,
                                    into packed: UnsafeMutablePointer<Float>) {
        let plane = g.inPlane, w = g.width, p = g.padding, k = 2 * p + 1, rows = g.patchSize
        let panels = (samples * plane + gemmNR - 1) / gemmNR, columns = panels * gemmNR
        withSameTapMasks(g, samples: samples, columns: columns) { masks, bordered, border in
            let center = bordered + border
            for c in 0..<g.channels {
                for s in 0..<samples { copy(center + s * plane, images + s * imageStride + c * plane, count: plane) }
                for t in 0..<(k * k) {
                    let shift = (t / k - p) * w + (t % k - p), mask = masks + t * columns
                    var out = packed + (c * k * k + t) * gemmNR
                    for q in Swift.stride(from: 0, to: columns, by: gemmNR) {
                        if gemmNR >= 16 {
                            for j in Swift.stride(from: 0, to: gemmNR, by: 16) {
                                store16(masked16(center + q + j + shift, mask + q + j), out + j)
                            }
                        } else {
                            for j in 0..<gemmNR { out[j] = mask[q + j] != 0 ? center[q + j + shift] : 0 }
                        }
                        out += rows * gemmNR
                    }
                }
            }
        }
    }

    /// `col2imSameShape` for planes of at most `WindowGeometry.smallPlane` values: each channel's plane summed
    /// in a zero-bordered scratch, each tap's row added in whole vectors with its out-of-image
    /// taps masked to +0 (each pixel gets the same values in the same tap order; a −0 in image
    /// may become +0), then written back; col is not changed.
    private static func col2imSmallPlane(_ g: WindowGeometry, col: UnsafeMutablePointer<Float>, ld: Int,
                                         image: UnsafeMutablePointer<Float>) {
        let plane = g.inPlane, whole = plane & ~15
        withSameTapMasks(g) { masks, bordered, border in
            let center = bordered + border
            for c in 0..<g.channels {
                let dst = image + c * plane
                copy(center, dst, count: plane)
                forEachSameTap(g, channel: c, col: col, ld: ld, masks) { row, shift, mask in
                    var q = 0
                    while q < whole {
                        store16(load16(center + q + shift) + masked16(row + q, mask + q), center + q + shift)
                        q += 16
                    }
                    while q < plane {
                        if mask[q] != 0 { center[q + shift] += row[q] }
                        q += 1
                    }
                }
                copy(dst, center, count: plane)
            }
        }
    }

    // MARK: Dilated windows (the general convolution path)

    /// col (C·k·k, Ho·Wo) ← the dilated patches of image (C, H, W): row (c, i, j), column (oy, ox)
    /// holds image[c][oy·s + i·d − p][ox·s + j·d − p], 0 outside the image.
    public static func dilatedIm2col(_ g: DilatedWindow, image: UnsafePointer<Float>,
                                     col: UnsafeMutablePointer<Float>) {
        let wo = g.outWidth, ho = g.outHeight, s = g.stride, k = g.kernel
        for c in 0..<g.channels {
            let plane = image + c * g.inPlane
            for i in 0..<k {
                for j in 0..<k {
                    let row = col + ((c * k + i) * k + j) * g.outPlane
                    let dx = j * g.dilation - g.padding
                    for oy in 0..<ho {
                        let dst = row + oy * wo
                        let y = oy * s + i * g.dilation - g.padding
                        guard y >= 0 && y < g.height else { dst.update(repeating: 0, count: wo); continue }
                        let src = plane + y * g.width
                        for ox in 0..<wo {
                            let x = ox * s + dx
                            dst[ox] = x >= 0 && x < g.width ? src[x] : 0
                        }
                    }
                }
            }
        }
    }

    /// image (C, H, W) += the columns of col scattered back to their pixels: the adjoint of
    /// `dilatedIm2col`.
    public static func dilatedCol2im(_ g: DilatedWindow, col: UnsafePointer<Float>,
                                     image: UnsafeMutablePointer<Float>) {
        let wo = g.outWidth, ho = g.outHeight, s = g.stride, k = g.kernel
        for c in 0..<g.channels {
            let plane = image + c * g.inPlane
            for i in 0..<k {
                for j in 0..<k {
                    let row = col + ((c * k + i) * k + j) * g.outPlane
                    let dx = j * g.dilation - g.padding
                    for oy in 0..<ho {
                        let y = oy * s + i * g.dilation - g.padding
                        guard y >= 0 && y < g.height else { continue }
                        let src = row + oy * wo, dst = plane + y * g.width
                        for ox in 0..<wo {
                            let x = ox * s + dx
                            if x >= 0 && x < g.width { dst[x] += src[ox] }
                        }
                    }
                }
            }
        }
    }

    // MARK: Direct "same" convolution of single-channel images: the first layer of a CNN, where
    // im2col and a GEMM with K = k·k would spend more time moving data than multiplying.

    /// Writes the k shifted planes of `image` (H, W) into `planes` (`s.scratchCount` floats).
    public static func fillShiftedPlanes(_ s: ShiftedPlanes, image: UnsafePointer<Float>,
                                         planes: UnsafeMutablePointer<Float>) {
        let p = s.padding, w = s.width
        for j in 0..<s.kernel {
            let plane = planes + j * s.planeStride, dx = j - p
            plane.update(repeating: 0, count: s.planeStride)
            let lo = Swift.max(0, -dx)  // an image narrower than the padding has no columns for some taps
            let valid = lo..<Swift.max(lo, Swift.min(w, w - dx))
            for y in 0..<s.height {
                let dst = plane + (y + p) * w, src = image + y * w + dx
                copy(dst + valid.lowerBound, src + valid.lowerBound, count: valid.count)
            }
        }
    }

    /// y (Cout, H·W) = b + Σ_t w[·, t] · tap_t, for the T = k·k taps of `planes`.
    ///
    /// Shapes: weight (Cout, T) row-major (PyTorch's (Cout, 1, k, k)); bias (Cout) or nil.
    /// Tiles of 7 vectors of 16 pixels × 3 output channels: each tap's 7 loads and 3 weights
    /// feed 21 independent sums held in registers (the last tile of a plane starts 112 pixels
    /// before its end, computing some pixels twice; past Cout, the last channel is computed
    /// again and not written). Planes under 112 pixels, and variants without 512-bit registers,
    /// take one vector of pixels × 8 channels.
    /// Each output is b + w₀·tap₀ + w₁·tap₁ + … in tap order, whatever the tile.
    public static func directConvolutionForward(_ s: ShiftedPlanes, planes: UnsafePointer<Float>,
                                                weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                                outChannels: Int, output: UnsafeMutablePointer<Float>) {
        let taps = s.kernel * s.kernel, pixels = s.pixels
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: taps) { tapPointers in
            for t in 0..<taps { tapPointers[t] = s.tap(t / s.kernel, t % s.kernel, of: planes) }
            let x = UnsafePointer(tapPointers.baseAddress!)
            #if SMALLNET_AVX512  // 21 sums of 16 lanes need the 32 registers of 512 bits
            if pixels >= forwardTilePixels {
                var o = 0
                while o < outChannels {
                    let block = Swift.min(3, outChannels - o)
                    var q = 0
                    while q < pixels {
                        forwardTile(taps: x, count: taps, at: Swift.min(q, pixels - forwardTilePixels), channels: o,
                                    block: block, pixels: pixels, weight: weight, bias: bias, output: output)
                        q += forwardTilePixels
                    }
                    o += block
                }
                return
            }
            #endif
            smallPlaneForward(taps: x, count: taps, pixels: pixels, weight: weight, bias: bias, outChannels: outChannels,
                              output: output)
        }
    }

    /// Pixels of one `forwardTile`: 7 vectors of 16.
    static let forwardTilePixels = 7 * 16

    /// y[o + i, q..<q + 112] for i < `block` (≤ 3) of `directConvolutionForward`.
    @inline(__always)
    private static func forwardTile(taps x: UnsafePointer<UnsafePointer<Float>>, count taps: Int, at q: Int, channels o: Int,
                                    block: Int, pixels: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                    output: UnsafeMutablePointer<Float>) {
        let c0 = o, c1 = o + Swift.min(1, block - 1), c2 = o + Swift.min(2, block - 1)
        let w0 = weight + c0 * taps, w1 = weight + c1 * taps, w2 = weight + c2 * taps
        let b0 = Vec16(repeating: bias?[c0] ?? 0), b1 = Vec16(repeating: bias?[c1] ?? 0), b2 = Vec16(repeating: bias?[c2] ?? 0)
        // a<pixel vector><channel>
        var a00 = b0, a01 = b1, a02 = b2, a10 = b0, a11 = b1, a12 = b2, a20 = b0, a21 = b1, a22 = b2
        var a30 = b0, a31 = b1, a32 = b2, a40 = b0, a41 = b1, a42 = b2, a50 = b0, a51 = b1, a52 = b2
        var a60 = b0, a61 = b1, a62 = b2
        for t in 0..<taps {
            let tap = x[t] + q, u0 = Vec16(repeating: w0[t]), u1 = Vec16(repeating: w1[t]), u2 = Vec16(repeating: w2[t])
            @inline(__always) func add(_ a0: inout Vec16, _ a1: inout Vec16, _ a2: inout Vec16, _ v: Int) {
                let pixels = load16(tap + 16 * v)
                a0 = multiplyAdd(a0, u0, pixels)
                a1 = multiplyAdd(a1, u1, pixels)
                a2 = multiplyAdd(a2, u2, pixels)
            }
            add(&a00, &a01, &a02, 0); add(&a10, &a11, &a12, 1); add(&a20, &a21, &a22, 2); add(&a30, &a31, &a32, 3)
            add(&a40, &a41, &a42, 4); add(&a50, &a51, &a52, 5); add(&a60, &a61, &a62, 6)
        }
        @inline(__always) func write(_ c: Int, _ v0: Vec16, _ v1: Vec16, _ v2: Vec16, _ v3: Vec16, _ v4: Vec16, _ v5: Vec16,
                                     _ v6: Vec16) {
            let y = output + c * pixels + q
            store16(v0, y); store16(v1, y + 16); store16(v2, y + 32); store16(v3, y + 48)
            store16(v4, y + 64); store16(v5, y + 80); store16(v6, y + 96)
        }
        write(c0, a00, a10, a20, a30, a40, a50, a60)
        if block > 1 { write(c1, a01, a11, a21, a31, a41, a51, a61) }
        if block > 2 { write(c2, a02, a12, a22, a32, a42, a52, a62) }
    }

    /// `directConvolutionForward` on planes under `forwardTilePixels`: one vector of 16 pixels
    /// (the last one partial) × 8 output channels sharing each tap load.
    private static func smallPlaneForward(taps tapPointers: UnsafePointer<UnsafePointer<Float>>, count taps: Int, pixels: Int,
                                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outChannels: Int,
                                          output: UnsafeMutablePointer<Float>) {
        var q = 0
        while q < pixels {
            let lanes = Swift.min(16, pixels - q)
            @inline(__always) func write(_ v: Vec16, _ o: Int) {
                let dst = output + o * pixels + q
                if lanes == 16 { store16(v, dst) } else { for l in 0..<lanes { dst[l] = v[l] } }
            }
            var o = 0
            while o < outChannels {
                let block = Swift.min(8, outChannels - o)
                /// Channel o + i of the block (the last one again past Cout).
                @inline(__always) func channel(_ i: Int) -> Int { o + Swift.min(i, block - 1) }
                let w0 = weight + channel(0) * taps, w1 = weight + channel(1) * taps
                let w2 = weight + channel(2) * taps, w3 = weight + channel(3) * taps
                let w4 = weight + channel(4) * taps, w5 = weight + channel(5) * taps
                let w6 = weight + channel(6) * taps, w7 = weight + channel(7) * taps
                @inline(__always) func start(_ i: Int) -> Vec16 { Vec16(repeating: bias?[channel(i)] ?? 0) }
                var a0 = start(0), a1 = start(1), a2 = start(2), a3 = start(3)
                var a4 = start(4), a5 = start(5), a6 = start(6), a7 = start(7)
                for t in 0..<taps {
                    let x = load16(tapPointers[t] + q)
                    a0 = multiplyAdd(a0, Vec16(repeating: w0[t]), x)
                    a1 = multiplyAdd(a1, Vec16(repeating: w1[t]), x)
                    a2 = multiplyAdd(a2, Vec16(repeating: w2[t]), x)
                    a3 = multiplyAdd(a3, Vec16(repeating: w3[t]), x)
                    a4 = multiplyAdd(a4, Vec16(repeating: w4[t]), x)
                    a5 = multiplyAdd(a5, Vec16(repeating: w5[t]), x)
                    a6 = multiplyAdd(a6, Vec16(repeating: w6[t]), x)
                    a7 = multiplyAdd(a7, Vec16(repeating: w7[t]), x)
                }
                write(a0, o)
                if block > 1 { write(a1, o + 1) }
                if block > 2 { write(a2, o + 2) }
                if block > 3 { write(a3, o + 3) }
                if block > 4 { write(a4, o + 4) }
                if block > 5 { write(a5, o + 5) }
                if block > 6 { write(a6, o + 6) }
                if block > 7 { write(a7, o + 7) }
                o += block
            }
            q += 16
        }
    }

    /// dWᵀ (T, Cout) += Σ_q tap_t[q] · dy[·, q]: the weight gradient of `directConvolutionForward`
    /// for one image (H, W), with dy (Cout, H·W) its output gradient; `scratch` holds
    /// `s.scratchCount` floats (the image's shifted planes).
    ///
    /// Each sum is the dot product of two rows of H·W floats, tap t's and channel o's dy, in 16
    /// lanes then across them (`pixelSums`, `laneTreeSum`): pixels in the lanes, so no
    /// transposes, and every variant gives the same numbers. For 3×3 kernels the sums of three
    /// channels (one with narrower registers) are computed together, each tap vector loaded once
    /// for three multiply-adds and each dy vector once for nine.
    public static func directConvolutionWeightGradient(_ s: ShiftedPlanes, image: UnsafePointer<Float>,
                                                       scratch: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                                       outChannels: Int, dWeightT: UnsafeMutablePointer<Float>) {
        let taps = s.kernel * s.kernel, pixels = s.pixels, whole = pixels & ~15
        fillShiftedPlanes(s, image: image, planes: scratch)
        let planes = UnsafePointer(scratch)
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: taps) { x in
            for t in 0..<taps { x[t] = s.tap(t / s.kernel, t % s.kernel, of: planes) }
            @inline(__always) func add(_ sum: Vec16, tap t: Int, channel o: Int) {
                dWeightT[t * outChannels + o] += laneTreeSum(sum)
            }
            guard taps == 9 else {
                for o in 0..<outChannels {
                    let dy = dOut + o * pixels
                    let tail = whole < pixels ? pixelTail(dy + whole, count: pixels - whole) : nil
                    for t in 0..<taps { add(pixelSums(x[t], dy, whole: whole, tail: tail), tap: t, channel: o) }
                }
                return
            }
            let x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3], x4 = x[4], x5 = x[5], x6 = x[6], x7 = x[7], x8 = x[8]
            #if SMALLNET_AVX512
            // Channels o, o + 1, o + 2 (the last channel again past Cout, its sums dropped): 27 sums.
            var o = 0
            while o < outChannels {
                let block = Swift.min(3, outChannels - o)
                let dyA = dOut + o * pixels, dyB = dOut + (o + Swift.min(1, block - 1)) * pixels
                let dyC = dOut + (o + block - 1) * pixels
                var a0 = Vec16(), a1 = Vec16(), a2 = Vec16(), a3 = Vec16(), a4 = Vec16(), a5 = Vec16(), a6 = Vec16()
                var a7 = Vec16(), a8 = Vec16(), b0 = Vec16(), b1 = Vec16(), b2 = Vec16(), b3 = Vec16(), b4 = Vec16()
                var b5 = Vec16(), b6 = Vec16(), b7 = Vec16(), b8 = Vec16(), c0 = Vec16(), c1 = Vec16(), c2 = Vec16()
                var c3 = Vec16(), c4 = Vec16(), c5 = Vec16(), c6 = Vec16(), c7 = Vec16(), c8 = Vec16()
                @inline(__always) func step(_ q: Int, _ da: Vec16, _ db: Vec16, _ dc: Vec16) {
                    var v = load16(x0 + q); a0 = multiplyAdd(a0, v, da); b0 = multiplyAdd(b0, v, db); c0 = multiplyAdd(c0, v, dc)
                    v = load16(x1 + q); a1 = multiplyAdd(a1, v, da); b1 = multiplyAdd(b1, v, db); c1 = multiplyAdd(c1, v, dc)
                    v = load16(x2 + q); a2 = multiplyAdd(a2, v, da); b2 = multiplyAdd(b2, v, db); c2 = multiplyAdd(c2, v, dc)
                    v = load16(x3 + q); a3 = multiplyAdd(a3, v, da); b3 = multiplyAdd(b3, v, db); c3 = multiplyAdd(c3, v, dc)
                    v = load16(x4 + q); a4 = multiplyAdd(a4, v, da); b4 = multiplyAdd(b4, v, db); c4 = multiplyAdd(c4, v, dc)
                    v = load16(x5 + q); a5 = multiplyAdd(a5, v, da); b5 = multiplyAdd(b5, v, db); c5 = multiplyAdd(c5, v, dc)
                    v = load16(x6 + q); a6 = multiplyAdd(a6, v, da); b6 = multiplyAdd(b6, v, db); c6 = multiplyAdd(c6, v, dc)
                    v = load16(x7 + q); a7 = multiplyAdd(a7, v, da); b7 = multiplyAdd(b7, v, db); c7 = multiplyAdd(c7, v, dc)
                    v = load16(x8 + q); a8 = multiplyAdd(a8, v, da); b8 = multiplyAdd(b8, v, db); c8 = multiplyAdd(c8, v, dc)
                }
                var q = 0
                while q < whole { step(q, load16(dyA + q), load16(dyB + q), load16(dyC + q)); q += 16 }
                if whole < pixels {
                    let count = pixels - whole
                    step(whole, pixelTail(dyA + whole, count: count), pixelTail(dyB + whole, count: count),
                         pixelTail(dyC + whole, count: count))
                }
                @inline(__always) func addNine(_ i: Int, _ s0: Vec16, _ s1: Vec16, _ s2: Vec16, _ s3: Vec16, _ s4: Vec16,
                                               _ s5: Vec16, _ s6: Vec16, _ s7: Vec16, _ s8: Vec16) {
                    guard i < block else { return }
                    add(s0, tap: 0, channel: o + i); add(s1, tap: 1, channel: o + i); add(s2, tap: 2, channel: o + i)
                    add(s3, tap: 3, channel: o + i); add(s4, tap: 4, channel: o + i); add(s5, tap: 5, channel: o + i)
                    add(s6, tap: 6, channel: o + i); add(s7, tap: 7, channel: o + i); add(s8, tap: 8, channel: o + i)
                }
                addNine(0, a0, a1, a2, a3, a4, a5, a6, a7, a8)
                addNine(1, b0, b1, b2, b3, b4, b5, b6, b7, b8)
                addNine(2, c0, c1, c2, c3, c4, c5, c6, c7, c8)
                o += block
            }
            #else
            for o in 0..<outChannels {
                let dy = dOut + o * pixels
                var s0 = Vec16(), s1 = Vec16(), s2 = Vec16(), s3 = Vec16(), s4 = Vec16()
                var s5 = Vec16(), s6 = Vec16(), s7 = Vec16(), s8 = Vec16()
                @inline(__always) func step(_ q: Int, _ d: Vec16) {
                    s0 = multiplyAdd(s0, load16(x0 + q), d); s1 = multiplyAdd(s1, load16(x1 + q), d)
                    s2 = multiplyAdd(s2, load16(x2 + q), d); s3 = multiplyAdd(s3, load16(x3 + q), d)
                    s4 = multiplyAdd(s4, load16(x4 + q), d); s5 = multiplyAdd(s5, load16(x5 + q), d)
                    s6 = multiplyAdd(s6, load16(x6 + q), d); s7 = multiplyAdd(s7, load16(x7 + q), d)
                    s8 = multiplyAdd(s8, load16(x8 + q), d)
                }
                var q = 0
                while q < whole { step(q, load16(dy + q)); q += 16 }
                if whole < pixels { step(whole, pixelTail(dy + whole, count: pixels - whole)) }
                add(s0, tap: 0, channel: o); add(s1, tap: 1, channel: o); add(s2, tap: 2, channel: o)
                add(s3, tap: 3, channel: o); add(s4, tap: 4, channel: o); add(s5, tap: 5, channel: o)
                add(s6, tap: 6, channel: o); add(s7, tap: 7, channel: o); add(s8, tap: 8, channel: o)
            }
            #endif
        }
    }

    /// The moments of one image's nine taps of a 3×3 kernel (the planes `fillShiftedPlanes`
    /// wrote): sums[t] = Σ_q tap_t[q] and products[9t + u] = Σ_q tap_t[q]·tap_u[q] (the same
    /// bits at [9u + t], copied). A convolution's output x_o = Σ_t w[o, t]·tap_t then has
    /// Σ_q x_o = w_o·S and Σ_q x_o² = w_o·P·w_oᵀ. P's rows t and 8 − t at once, from their
    /// diagonal on (9 − t and t + 1 products: ten sums), each vector of the two taps loaded once;
    /// each sum in 16 lanes of pixels, then across them.
    public static func tapMoments(_ s: ShiftedPlanes, planes: UnsafePointer<Float>, sums: UnsafeMutablePointer<Float>,
                                  products: UnsafeMutablePointer<Float>) {
        let pixels = s.pixels, whole = pixels & ~15
        @inline(__always) func tap(_ t: Int) -> UnsafePointer<Float> { s.tap(t / 3, t % 3, of: planes) }
        // Rows t and b = 8 − t (t = 4: row 4 alone): sum k of the ten is (t, t + k) for k < 9 − t,
        // then (b, b + k − (9 − t)).
        @inline(__always) func rows(_ t: Int) {
            let b = 8 - t, first = 9 - t, count = t == 4 ? 5 : 10
            @inline(__always) func row(_ k: Int) -> Int { k < first ? t : b }
            @inline(__always) func column(_ k: Int) -> Int { k < first ? t + k : b + k - first }
            // The tap each sum multiplies by (row 4 alone: the last five the first five again, unused).
            @inline(__always) func factor(_ k: Int) -> UnsafePointer<Float> { tap(column(k % count)) }
            let xt = tap(t), xb = tap(b)
            let c0 = factor(0), c1 = factor(1), c2 = factor(2), c3 = factor(3), c4 = factor(4)
            let c5 = factor(5), c6 = factor(6), c7 = factor(7), c8 = factor(8), c9 = factor(9)
            var a0 = Vec16(), a1 = Vec16(), a2 = Vec16(), a3 = Vec16(), a4 = Vec16(), a5 = Vec16(), a6 = Vec16()
            var a7 = Vec16(), a8 = Vec16(), a9 = Vec16(), totalT = Vec16(), totalB = Vec16()
            // vt, vb: taps t and b at pixels q..<q + 16 (zeros past the image in the last vector,
            // so that the other taps' values read there count for nothing).
            @inline(__always) func step(_ q: Int, _ vt: Vec16, _ vb: Vec16) {
                @inline(__always) func v(_ k: Int) -> Vec16 { row(k) == t ? vt : vb }
                totalT += vt
                a0 = multiplyAdd(a0, v(0), load16(c0 + q)); a1 = multiplyAdd(a1, v(1), load16(c1 + q))
                a2 = multiplyAdd(a2, v(2), load16(c2 + q)); a3 = multiplyAdd(a3, v(3), load16(c3 + q))
                a4 = multiplyAdd(a4, v(4), load16(c4 + q))
                guard count == 10 else { return }
                totalB += vb
                a5 = multiplyAdd(a5, v(5), load16(c5 + q)); a6 = multiplyAdd(a6, v(6), load16(c6 + q))
                a7 = multiplyAdd(a7, v(7), load16(c7 + q)); a8 = multiplyAdd(a8, v(8), load16(c8 + q))
                a9 = multiplyAdd(a9, v(9), load16(c9 + q))
            }
            var q = 0
            while q < whole { step(q, load16(xt + q), load16(xb + q)); q += 16 }
            if whole < pixels { step(whole, pixelTail(xt + whole, count: pixels - whole), pixelTail(xb + whole, count: pixels - whole)) }
            @inline(__always) func store(_ k: Int, _ a: Vec16) {
                let value = laneTreeSum(a), i = row(k), j = column(k)
                products[9 * i + j] = value
                products[9 * j + i] = value
            }
            sums[t] = laneTreeSum(totalT)
            store(0, a0); store(1, a1); store(2, a2); store(3, a3); store(4, a4)
            guard count == 10 else { return }
            sums[b] = laneTreeSum(totalB)
            store(5, a5); store(6, a6); store(7, a7); store(8, a8); store(9, a9)
        }
        rows(0); rows(1); rows(2); rows(3); rows(4)
    }

    /// The last `count` < 16 floats of a row from `p`, zeros after them.
    @inline(__always)
    private static func pixelTail(_ p: UnsafePointer<Float>, count: Int) -> Vec16 {
        var v = Vec16()
        for l in 0..<count { v[l] = p[l] }
        return v
    }

    /// Lane l of the result: Σ_c x[16c + l]·dy[16c + l] over the `whole`/16 full vectors in order,
    /// then x[whole + l]·tail[l] (x is read 16 floats past `whole`; tail's zeros cancel them).
    @inline(__always)
    private static func pixelSums(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, whole: Int, tail: Vec16?) -> Vec16 {
        var sum = Vec16()
        var q = 0
        while q < whole { sum = multiplyAdd(sum, load16(x + q), load16(dy + q)); q += 16 }
        if let tail { sum = multiplyAdd(sum, load16(x + whole), tail) }
        return sum
    }

    /// The sum of v's lanes by halves: the two 8-lane halves added, then the 4-lane halves of
    /// that, then 2, then 1 (the same numbers whether V is one register or two).
    @inline(__always)
    static func laneTreeSum(_ v: Vec16) -> Float {
        let eight = v.lowHalf + v.highHalf, four = eight.lowHalf + eight.highHalf, two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }
}
