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
/// Row (c, i, j), column (oy, ox) holds image[c][oy·s + i − p][ox·s + j − p].
func im2col(_ g: WindowGeometry, image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
    let wo = g.outWidth, ho = g.outHeight, s = g.stride
    for c in 0..<g.channels {
        let plane = image + c * g.inPlane
        for i in 0..<g.kernelHeight {
            for j in 0..<g.kernelWidth {
                let row = col + ((c * g.kernelHeight + i) * g.kernelWidth + j) * g.outPlane
                let valid = g.validColumns(j)
                for oy in 0..<ho {
                    let dst = row + oy * wo
                    let y = oy * s + i - g.padding
                    guard y >= 0 && y < g.height else { dst.update(repeating: 0, count: wo); continue }
                    let src = plane + y * g.width + j - g.padding
                    if valid.lowerBound > 0 { dst.update(repeating: 0, count: valid.lowerBound) }
                    if s == 1 {
                        (dst + valid.lowerBound).update(from: src + valid.lowerBound, count: valid.count)
                    } else {
                        for ox in valid { dst[ox] = src[ox * s] }
                    }
                    if valid.upperBound < wo { (dst + valid.upperBound).update(repeating: 0, count: wo - valid.upperBound) }
                }
            }
        }
    }
}

/// image (C, H, W) += the columns of col (C·kh·kw, Ho·Wo) scattered back to their pixels:
/// the adjoint of `im2col`.
func col2im(_ g: WindowGeometry, col: UnsafePointer<Float>, image: UnsafeMutablePointer<Float>) {
    let wo = g.outWidth, ho = g.outHeight, s = g.stride
    for c in 0..<g.channels {
        let plane = image + c * g.inPlane
        for i in 0..<g.kernelHeight {
            for j in 0..<g.kernelWidth {
                let row = col + ((c * g.kernelHeight + i) * g.kernelWidth + j) * g.outPlane
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
