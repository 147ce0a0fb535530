// im2col and col2im: convolution as matrix product, one sample at a time.

/// The geometry of a 2-D convolution or pooling window over one (C, H, W) sample.
struct WindowGeometry {
    let channels, height, width: Int
    let kernelHeight, kernelWidth: Int
    let stride, padding: Int

    var outHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    var outWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    /// Rows of the column matrix: C·kh·kw.
    var patchSize: Int { channels * kernelHeight * kernelWidth }
    var outPlane: Int { outHeight * outWidth }
    var inPlane: Int { height * width }
    /// Stride 1 with "same" padding: every im2col row is the image plane shifted.
    var isSameShape: Bool { stride == 1 && outHeight == height && outWidth == width }

    /// For output column `ox` and kernel column `j`: the input x = ox·stride + j − padding.
    /// Returns the range of ox whose x lies inside 0..<width.
    @inline(__always) func validColumns(_ j: Int) -> Range<Int> {
        // x ≥ 0 ⇔ ox ≥ ⌈(padding − j) / stride⌉ ; x < width ⇔ ox ≤ ⌊(width − 1 + padding − j) / stride⌋
        let lo = Swift.max(0, (padding - j + stride - 1) / stride)
        let hiInclusive = (width - 1 + padding - j)
        let hi = hiInclusive < 0 ? 0 : Swift.min(outWidth, hiInclusive / stride + 1)
        return lo..<Swift.max(lo, hi)
    }
}

/// col (C·kh·kw, Ho·Wo) ← the patches of image (C, H, W); out-of-image taps are 0.
/// Row (c, i, j), column (oy, ox) holds image[c][oy·s + i − p][ox·s + j − p]; rows are `ld`
/// floats apart (ld ≥ Ho·Wo, so several samples' columns can sit side by side).
func im2col(_ g: WindowGeometry, image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, ld: Int) {
    if g.isSameShape { return im2colSameShape(g, image: image, col: col, ld: ld) }
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
func col2im(_ g: WindowGeometry, col: UnsafeMutablePointer<Float>, ld: Int, image: UnsafeMutablePointer<Float>) {
    if g.isSameShape { return col2imSameShape(g, col: col, ld: ld, image: image) }
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

/// The rows of one im2col matrix for a kernel tap (dy, dx) = (i − p, j − p) under "same"
/// padding: output rows `rows` read image rows shifted by dy; within the flattened plane the
/// tap is one contiguous shift by dy·W + dx, except `dx` columns at one edge that fall outside.
@inline(__always)
private func sameShapeTap(_ g: WindowGeometry, _ i: Int, _ j: Int) -> (rows: Range<Int>, shift: Int, dx: Int) {
    let dy = i - g.padding, dx = j - g.padding
    let lo = Swift.max(0, -dy)  // an image shorter than the padding has no rows for some taps
    let rows = lo..<Swift.max(lo, Swift.min(g.height, g.height - dy))
    return (rows, dy * g.width + dx, dx)
}

/// Sets to 0 the `|dx|` columns of a tap's rows that fall outside the image (left for dx < 0,
/// right for dx > 0).
@inline(__always)
private func zeroOutsideColumns(_ row: UnsafeMutablePointer<Float>, _ tap: (rows: Range<Int>, shift: Int, dx: Int),
                                width w: Int) {
    guard tap.dx != 0 else { return }
    let edge = tap.dx < 0 ? 0..<(-tap.dx) : (w - tap.dx)..<w
    for y in tap.rows { for x in edge { row[y * w + x] = 0 } }
}

/// `im2col` for stride 1 and "same" padding: one shifted copy per kernel tap, then the few
/// out-of-image columns set to 0.
private func im2colSameShape(_ g: WindowGeometry, image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, ld: Int) {
    let w = g.width, plane = g.inPlane
    for c in 0..<g.channels {
        let src = image + c * plane
        for i in 0..<g.kernelHeight {
            for j in 0..<g.kernelWidth {
                let row = col + ((c * g.kernelHeight + i) * g.kernelWidth + j) * ld
                let tap = sameShapeTap(g, i, j)
                guard !tap.rows.isEmpty else { row.update(repeating: 0, count: plane); continue }
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
private func col2imSameShape(_ g: WindowGeometry, col: UnsafeMutablePointer<Float>, ld: Int, image: UnsafeMutablePointer<Float>) {
    let w = g.width, plane = g.inPlane
    for c in 0..<g.channels {
        let dst = image + c * plane
        for i in 0..<g.kernelHeight {
            for j in 0..<g.kernelWidth {
                let row = col + ((c * g.kernelHeight + i) * g.kernelWidth + j) * ld
                let tap = sameShapeTap(g, i, j)
                guard !tap.rows.isEmpty else { continue }
                zeroOutsideColumns(row, tap, width: w)
                let first = tap.rows.lowerBound * w, end = tap.rows.upperBound * w
                let lo = Swift.max(0, -tap.dx), hi = Swift.max(0, tap.dx)
                addInPlace(dst + first + lo + tap.shift, row + first + lo, count: end - first - lo - hi)
            }
        }
    }
}

// MARK: Dilated windows (the general convolution path)

/// The window of a dilated convolution over one (C, H, W) sample: taps d pixels apart.
struct DilatedWindow {
    let channels, height, width: Int
    let kernel, stride, padding, dilation: Int

    /// The extent of the kernel on the input: d·(k − 1) + 1.
    var span: Int { dilation * (kernel - 1) + 1 }
    var outHeight: Int { (height + 2 * padding - span) / stride + 1 }
    var outWidth: Int { (width + 2 * padding - span) / stride + 1 }
    var patchSize: Int { channels * kernel * kernel }
    var outPlane: Int { outHeight * outWidth }
    var inPlane: Int { height * width }
}

/// col (C·k·k, Ho·Wo) ← the dilated patches of image (C, H, W): row (c, i, j), column (oy, ox)
/// holds image[c][oy·s + i·d − p][ox·s + j·d − p], 0 outside the image.
func dilatedIm2col(_ g: DilatedWindow, image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
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
func dilatedCol2im(_ g: DilatedWindow, col: UnsafePointer<Float>, image: UnsafeMutablePointer<Float>) {
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
