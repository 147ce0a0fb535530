// Winograd's F(2×2, 3×3) transforms: a 3×3 convolution as 16 products of transformed tiles.
import SmallNetKernels

// With d a tile's 4×4 input block, g a 3×3 kernel and Y the tile's 2×2 outputs (Lavin & Gray):
//   Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A,
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 −1 −1].
// Summed over input channels, each of the 16 components is a matrix product (the layer's GEMMs);
// these kernels move between planes and transformed tiles. Backward runs the adjoints: the output
// gradient's A dY Aᵀ, and the input gradient's B dV Bᵀ added up over the overlapping blocks.
//
// The input transform and the output gradient run on the tiles of one tile row eight at a time,
// in 8 lanes: the even and odd columns of a padded row are a vector's even and odd halves. The
// output transform sums a channel's tiles 16 at a time, the input gradient a tile row's eight at
// a time; both then spread each tile row's sums eight tiles at a time. Whole vectors are read and written past a row's last tile (hence
// the slack of the transformed rows, `ld` ≥ T + 15, and of the scratch); lanes past the row are
// dropped, or masked to 0 where they would be added in.
// The weights' transform G g Gᵀ and its adjoint run on 16 kernels at a time, one per lane.
// Only additions, subtractions and halvings: every variant gives the same numbers.

/// (a₀, b₀, a₁, b₁, …, a₇, b₇).
@inline(__always) private func interleaved(_ a: Vec8, _ b: Vec8) -> Vec16 {
    var r = Vec16()
    for i in 0..<8 { r[2 * i] = a[i]; r[2 * i + 1] = b[i] }
    return r
}

/// Lanes 0..<2 zero, lane i ≥ 2 = v[i − 2]: a row of tile blocks moved to their right halves' columns.
@inline(__always) private func shiftedTwoLanes(_ v: Vec16) -> Vec16 {
    var r = Vec16()
    for i in 2..<16 { r[i] = v[i - 2] }
    return r
}

/// Lanes 0..<2 of v in lanes 14 and 15's place: what `shiftedTwoLanes` moves out of a vector.
@inline(__always) private func carriedTwoLanes(_ v: Vec16) -> Vec16 {
    var r = Vec16()
    r[0] = v[14]
    r[1] = v[15]
    return r
}

/// Lane i = v[i + 1], the last lane 0.
@inline(__always) private func nextLanes(_ v: Vec8) -> Vec8 {
    var r = Vec8()
    for i in 0..<7 { r[i] = v[i + 1] }
    return r
}

/// Copies `rows` rows of `width` floats from src (rows `width` apart) to dst (rows `dstStride`
/// apart). Rows of 4 to 16 floats but the last go as one vector each (8 or 16 lanes), lanes
/// past the row set to 0 in dst (reading into src's next row, writing a whole vector of dst):
/// dst's row must have room for it, and the caller writes dst's next row after this one.
@inline(__always) private func copyRows(_ dst: UnsafeMutablePointer<Float>, _ dstStride: Int, _ src: UnsafePointer<Float>,
                                        rows: Int, width: Int) {
    var y = 0
    if width >= 8 && width <= 16 {
        let past = Vec16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .>= Vec16(repeating: Float(width))
        while y + 1 < rows {
            store16(load16(src + y &* width).replacing(with: 0, where: past), dst + y &* dstStride)
            y += 1
        }
    } else if width >= 4 && width < 8 {
        let past = Vec8(0, 1, 2, 3, 4, 5, 6, 7) .>= Vec8(repeating: Float(width))
        while y + 1 < rows {
            store8(load8(src + y &* width).replacing(with: 0, where: past), dst + y &* dstStride)
            y += 1
        }
    }
    while y < rows {
        for x in 0..<width { dst[y * dstStride + x] = src[y * width + x] }
        y += 1
    }
}

/// Copies `rows` rows of `width` floats from src (rows `srcStride` apart) to dst (rows `width`
/// apart), adding `bias` when given. Rows of 4 to 16 floats but the last go as one vector each
/// (8 or 16 lanes, into dst's next row at most): the caller writes that row after this one.
@inline(__always) private func copyRowsOut(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ srcStride: Int,
                                           rows: Int, width: Int, bias: Float?) {
    var y = 0
    if width >= 8 && width <= 16 {
        while y + 1 < rows {
            let v = load16(src + y &* srcStride)
            store16(bias.map { Vec16(repeating: $0) + v } ?? v, dst + y &* width)
            y += 1
        }
    } else if width >= 4 && width < 8 {
        while y + 1 < rows {
            let v = load8(src + y &* srcStride)
            store8(bias.map { Vec8(repeating: $0) + v } ?? v, dst + y &* width)
            y += 1
        }
    }
    while y < rows {
        for x in 0..<width { dst[y * width + x] = bias.map { $0 + src[y * srcStride + x] } ?? src[y * srcStride + x] }
        y += 1
    }
}

extension Variant {
    /// V (16·C rows of `ld`: component ξ of channel c is row 16c + ξ) ← Bᵀ d B for the
    /// T = samples · tilesPerImage tiles of `samples` images (C, H, W), `imageStride` apart.
    public static func winogradInputTransform(_ w: WinogradTiles, images: UnsafePointer<Float>, samples: Int,
                                              imageStride: Int, into v: UnsafeMutablePointer<Float>, ld: Int,
                                              scratch: UnsafeMutablePointer<Float>) {
        let stride = w.paddedStride, componentStride = ld, channelStride = 16 * ld
        let padded = scratch, rows = scratch + w.paddedCount
        padded.update(repeating: 0, count: w.paddedCount)
        for s in 0..<samples {
            for c in 0..<w.channels {
                let plane = images + s * imageStride + c * w.plane
                copyRows(padded + stride + 1, stride, plane, rows: w.height, width: w.width)
                for ty in 0..<w.tileRows {
                    let r = padded + 2 * ty * stride
                    let t0 = s * w.tilesPerImage + ty * w.tileColumns
                    if stride == 16 {
                        // At most 7 tiles a row: Bᵀ d in registers, then (Bᵀ d) B from each row's
                        // even and odd columns (e, o) and the same moved on by one tile (e′, o′):
                        // a = e, b = o, c = e′, d = o′.
                        let r0 = load16(r), r1 = load16(r + 16), r2 = load16(r + 32), r3 = load16(r + 48)
                        let out = v + (c &* channelStride &+ t0)
                        @inline(__always) func columns(_ i: Int, _ z: Vec16) {
                            let e = z.evenHalf, o = z.oddHalf, e1 = nextLanes(e), o1 = nextLanes(o)
                            let row = out + 4 &* i &* componentStride
                            store8(e - e1, row)
                            store8(o + e1, row + componentStride)
                            store8(e1 - o, row + 2 &* componentStride)
                            store8(o - o1, row + 3 &* componentStride)
                        }
                        columns(0, r0 - r2)
                        columns(1, r1 + r2)
                        columns(2, r2 - r1)
                        columns(3, r1 - r3)
                        continue
                    }
                    // Bᵀ d: four rows from the block's four, across the whole padded width.
                    var x = 0
                    while x < stride {
                        let r0 = load16(r + x), r1 = load16(r + stride + x)
                        let r2 = load16(r + 2 * stride + x), r3 = load16(r + 3 * stride + x)
                        store16(r0 - r2, rows + x)
                        store16(r1 + r2, rows + stride + x)
                        store16(r2 - r1, rows + 2 * stride + x)
                        store16(r1 - r3, rows + 3 * stride + x)
                        x += 16
                    }
                    // (Bᵀ d) B: columns (a, b, c, d) = z[2tx …] of each tile → (a − c, b + c, c − b, b − d).
                    for i in 0..<4 {
                        let z = rows + i &* stride, out = v + (4 &* i &* componentStride &+ c &* channelStride &+ t0)
                        var tx = 0
                        while tx < w.tileColumns {
                            let a = load16(z + 2 &* tx), b = load16(z + (2 &* tx &+ 1))
                            let cc = load16(z + (2 &* tx &+ 2)), d = load16(z + (2 &* tx &+ 3))
                            store8((a - cc).evenHalf, out + tx)
                            store8((b + cc).evenHalf, out + (componentStride &+ tx))
                            store8((cc - b).evenHalf, out + (2 &* componentStride &+ tx))
                            store8((b - d).evenHalf, out + (3 &* componentStride &+ tx))
                            tx += 8
                        }
                    }
                }
            }
        }
    }

    /// y (C, H, W) of each of `samples` images (`outputStride` apart) = Aᵀ M A (+ bias[c]) for
    /// each tile's 4×4 block of M (16·C rows of `ld`).
    public static func winogradOutputTransform(_ w: WinogradTiles, m: UnsafePointer<Float>, ld: Int, samples: Int,
                                               bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                                               outputStride: Int, scratch: UnsafeMutablePointer<Float>) {
        let stride = w.paddedStride, channelStride = 16 * ld, tiles = samples * w.tilesPerImage
        let blocks = scratch  // a plane's tiles' 2×2 outputs, 2·⌈H/2⌉ rows of 2·⌈W/2⌉ (and slack)
        let corners = scratch + w.paddedCount + 16, cornerStride = WinogradTiles.rowStride(tiles: tiles)  // two channels'
        // Aᵀ M A for all of a channel's tiles, 16 at a time, into `corners` (Y₀₀, Y₀₁, Y₁₀, Y₁₁
        // rows), then interleaved into each plane's rows in a second loop, a channel later (its
        // stores out of the way of the loads): one loop doing both is compiled into gathers of
        // the sums' pieces.
        for c in 0...w.channels {
            if c < w.channels {
                let src = m + c * channelStride, out = corners + (c & 1) * 4 * cornerStride
                var t = 0
                while t < tiles {
                    @inline(__always) func e(_ k: Int) -> Vec16 { load16(src + (k &* ld &+ t)) }
                    // Aᵀ M: two rows from the four; then (Aᵀ M) A: two columns from each row's four.
                    let a0 = e(0) + e(4) + e(8), a1 = e(1) + e(5) + e(9)
                    let a2 = e(2) + e(6) + e(10), a3 = e(3) + e(7) + e(11)
                    let b0 = e(4) - e(8) - e(12), b1 = e(5) - e(9) - e(13)
                    let b2 = e(6) - e(10) - e(14), b3 = e(7) - e(11) - e(15)
                    store16(a0 + a1 + a2, out + t)
                    store16(a1 - a2 - a3, out + (cornerStride &+ t))
                    store16(b0 + b1 + b2, out + (2 &* cornerStride &+ t))
                    store16(b1 - b2 - b3, out + (3 &* cornerStride &+ t))
                    t += 16
                }
            }
            guard c > 0 else { continue }
            let channel = c - 1, sums = corners + (channel & 1) * 4 * cornerStride
            for s in 0..<samples {
                for ty in 0..<w.tileRows {
                    let top = blocks + 2 * ty * stride, bottom = top + stride
                    let first = sums + (s * w.tilesPerImage + ty * w.tileColumns)
                    var tx = 0
                    while tx < w.tileColumns {
                        let y = first + tx
                        store16(interleaved(load8(y), load8(y + cornerStride)), top + 2 &* tx)
                        store16(interleaved(load8(y + 2 &* cornerStride), load8(y + 3 &* cornerStride)), bottom + 2 &* tx)
                        tx += 8
                    }
                }
                copyRowsOut(output + s * outputStride + channel * w.plane, blocks, stride, rows: w.height, width: w.width,
                            bias: bias?[channel])
            }
        }
    }

    /// dM (16·C rows of `ld`) ← A dY Aᵀ, dY each tile's 2×2 block of the output gradient
    /// (C, H, W) of `samples` images (`dOutStride` apart), 0 past the plane: the adjoint of
    /// `winogradOutputTransform`.
    public static func winogradOutputGradient(_ w: WinogradTiles, dOut: UnsafePointer<Float>, samples: Int,
                                              dOutStride: Int, into dm: UnsafeMutablePointer<Float>, ld: Int,
                                              scratch: UnsafeMutablePointer<Float>) {
        let stride = w.paddedStride, componentStride = ld, channelStride = 16 * ld
        let blocks = scratch
        blocks.update(repeating: 0, count: w.paddedCount)
        for s in 0..<samples {
            for c in 0..<w.channels {
                let plane = dOut + s * dOutStride + c * w.plane
                copyRows(blocks, stride, plane, rows: w.height, width: w.width)
                for ty in 0..<w.tileRows {
                    let dst = dm + c * channelStride + s * w.tilesPerImage + ty * w.tileColumns
                    let top = blocks + 2 * ty * stride, bottom = top + stride
                    var tx = 0
                    while tx < w.tileColumns {
                        let upper = load16(top + 2 &* tx), lower = load16(bottom + 2 &* tx)
                        let p = upper.evenHalf, q = upper.oddHalf, r = lower.evenHalf, u = lower.oddHalf
                        // A dY: rows dY₀, dY₀ + dY₁, dY₀ − dY₁, −dY₁; then each row (a, b) times Aᵀ.
                        @inline(__always) func row(_ i: Int, _ a: Vec8, _ b: Vec8) {
                            let out = dst + (4 &* i &* componentStride &+ tx)
                            store8(a, out)
                            store8(a + b, out + componentStride)
                            store8(a - b, out + 2 &* componentStride)
                            store8(-b, out + 3 &* componentStride)
                        }
                        row(0, p, q)
                        row(1, p + r, q + u)
                        row(2, p - r, q - u)
                        row(3, -r, -u)
                        tx += 8
                    }
                }
            }
        }
    }

    /// dx (C, H, W) of each of `samples` images (`dInputStride` apart) ← the sum over tiles of
    /// B dV Bᵀ at each tile's 4×4 input block, dV (16·C rows of `ld`): the adjoint of
    /// `winogradInputTransform` (dx is overwritten). Each padded row adds its tiles' blocks tile
    /// row by tile row, eight tiles at a time: their left halves plus their right halves (two
    /// columns on), then to the row.
    public static func winogradInputGradient(_ w: WinogradTiles, dv: UnsafePointer<Float>, ld: Int, samples: Int,
                                             dInput: UnsafeMutablePointer<Float>, dInputStride: Int,
                                             scratch: UnsafeMutablePointer<Float>) {
        let stride = w.paddedStride, componentStride = ld, channelStride = 16 * ld
        let padded = scratch
        let pieces = scratch + w.paddedCount + 16  // per group of 8 tiles: 4 rows × 4 columns of B dV Bᵀ
        for s in 0..<samples {
            for c in 0..<w.channels {
                // B dV Bᵀ into `pieces`, then interleaved and added into `padded` in a second loop:
                // one loop doing both is compiled into gathers of the sums' pieces.
                var group = pieces
                for ty in 0..<w.tileRows {
                    let src = dv + c * channelStride + s * w.tilesPerImage + ty * w.tileColumns
                    var tx = 0
                    while tx < w.tileColumns {
                        @inline(__always) func e(_ k: Int) -> Vec8 { load8(src + (k &* componentStride &+ tx)) }
                        // B dV: rows D₀, D₁ − D₂ + D₃, −D₀ + D₁ + D₂, −D₃; then each row (a, b, c, d)
                        // times Bᵀ: (a, b − c + d, −a + b + c, −d).
                        @inline(__always) func row(_ p: Int, _ a: Vec8, _ b: Vec8, _ c: Vec8, _ d: Vec8) {
                            let out = group + 32 &* p
                            store8(a, out)
                            store8(b - c + d, out + 8)
                            store8(-a + b + c, out + 16)
                            store8(-d, out + 24)
                        }
                        row(0, e(0), e(1), e(2), e(3))
                        row(1, e(4) - e(8) + e(12), e(5) - e(9) + e(13), e(6) - e(10) + e(14), e(7) - e(11) + e(15))
                        row(2, -e(0) + e(4) + e(8), -e(1) + e(5) + e(9), -e(2) + e(6) + e(10), -e(3) + e(7) + e(11))
                        row(3, -e(12), -e(13), -e(14), -e(15))
                        group += 128
                        tx += 8
                    }
                }
                // Each block row at columns 2tx … 2tx + 3: its left half plus its right half two
                // columns on (lanes of tiles past the row, pairs once interleaved, add 0), then to
                // the padded row; what moves past the vector goes to the next one.
                padded.update(repeating: 0, count: w.paddedCount)
                group = pieces
                for ty in 0..<w.tileRows {
                    let r0 = padded + 2 * ty * stride
                    var tx = 0
                    while tx < w.tileColumns {
                        let past = Vec16(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)
                            .>= Vec16(repeating: Float(w.tileColumns - tx))
                        for p in 0..<4 {
                            let r = r0 + (p &* stride &+ 2 &* tx), piece = group + 32 &* p
                            let left = interleaved(load8(piece), load8(piece + 8)).replacing(with: 0, where: past)
                            let right = interleaved(load8(piece + 16), load8(piece + 24)).replacing(with: 0, where: past)
                            store16(load16(r) + (left + shiftedTwoLanes(right)), r)
                            store16(load16(r + 16) + carriedTwoLanes(right), r + 16)
                        }
                        group += 128
                        tx += 8
                    }
                }
                copyRowsOut(dInput + s * dInputStride + c * w.plane, padded + stride + 1, stride, rows: w.height,
                            width: w.width, bias: nil)
            }
        }
    }

    /// U (16 components, `count` floats apart) ← G g Gᵀ for `count` 3×3 kernels g (9 floats
    /// each, one after another): component 4i + j of kernel k at u[(4i + j)·count + k]. Sixteen
    /// kernels at a time, one per lane (their taps transposed into 9 vectors first); the last
    /// count mod 16 through a zero-padded copy.
    public static func winogradWeightTransform(_ weight: UnsafePointer<Float>, count: Int, into u: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * 144 + 16) { buffer in
            let taps = buffer.baseAddress!, padded = taps + 144, tail = padded + 144
            for k in stride(from: 0, to: count, by: 16) {
                let lanes = Swift.min(16, count - k)
                if lanes < 16 {
                    padded.update(repeating: 0, count: 144)
                    padded.update(from: weight + 9 * k, count: 9 * lanes)
                }
                transpose(rows: 16, cols: 9, src: lanes < 16 ? UnsafePointer(padded) : weight + 9 * k, lds: 9, dst: taps, ldd: 16)
                @inline(__always) func g(_ t: Int) -> Vec16 { load16(taps + 16 * t) }
                /// Row i of G g (i in 0..<4), column x.
                @inline(__always) func gg(_ i: Int, _ x: Int) -> Vec16 {
                    switch i {
                    case 0: return g(x)
                    case 1: return 0.5 * (g(x) + g(3 + x) + g(6 + x))
                    case 2: return 0.5 * (g(x) - g(3 + x) + g(6 + x))
                    default: return g(6 + x)
                    }
                }
                @inline(__always) func store(_ v: Vec16, _ component: Int) {
                    let at = u + component * count + k
                    if lanes == 16 {
                        store16(v, at)
                    } else {
                        store16(v, tail)
                        at.update(from: tail, count: lanes)
                    }
                }
                for i in 0..<4 {
                    let r0 = gg(i, 0), r1 = gg(i, 1), r2 = gg(i, 2)
                    store(r0, 4 * i)
                    store(0.5 * (r0 + r1 + r2), 4 * i + 1)
                    store(0.5 * (r0 - r1 + r2), 4 * i + 2)
                    store(r2, 4 * i + 3)
                }
            }
        }
    }

    /// dW (`count` 3×3 kernels, 9 floats each) += Gᵀ dU G, with dU's 16 components `count`
    /// floats apart (component 4i + j of kernel k at du[(4i + j)·count + k]): the adjoint of
    /// `winogradWeightTransform`. Sixteen kernels at a time, one per lane, their 9 sums
    /// transposed back before they are added.
    public static func winogradWeightGradientTransform(_ du: UnsafePointer<Float>, count: Int,
                                                       into dW: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * 144 + 16) { buffer in
            let sums = buffer.baseAddress!, perKernel = sums + 144, tail = perKernel + 144
            for k in stride(from: 0, to: count, by: 16) {
                let lanes = Swift.min(16, count - k)
                @inline(__always) func d(_ i: Int, _ j: Int) -> Vec16 {
                    let at = du + (4 * i + j) * count + k
                    if lanes == 16 { return load16(at) }
                    tail.update(repeating: 0, count: 16)
                    tail.update(from: at, count: lanes)
                    return load16(tail)
                }
                /// Row x of Gᵀ dU (x in 0..<3), column j.
                @inline(__always) func gd(_ x: Int, _ j: Int) -> Vec16 {
                    switch x {
                    case 0: return d(0, j) + 0.5 * (d(1, j) + d(2, j))
                    case 1: return 0.5 * (d(1, j) - d(2, j))
                    default: return 0.5 * (d(1, j) + d(2, j)) + d(3, j)
                    }
                }
                for x in 0..<3 {
                    let r0 = gd(x, 0), r1 = gd(x, 1), r2 = gd(x, 2), r3 = gd(x, 3)
                    store16(r0 + 0.5 * (r1 + r2), sums + 16 * (3 * x))
                    store16(0.5 * (r1 - r2), sums + 16 * (3 * x + 1))
                    store16(0.5 * (r1 + r2) + r3, sums + 16 * (3 * x + 2))
                }
                transpose(rows: 9, cols: 16, src: sums, lds: 16, dst: perKernel, ldd: 9)
                addInPlace(dW + 9 * k, perKernel, count: 9 * lanes)
            }
        }
    }
}
