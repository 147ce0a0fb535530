// The shapes kernels and layers agree on: convolution windows and the first layer's shifted planes.

/// The geometry of a 2-D convolution or pooling window over one (C, H, W) sample.
@frozen public struct WindowGeometry {
    public let channels, height, width: Int
    public let kernelHeight, kernelWidth: Int
    public let stride, padding: Int

    @inlinable public init(channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int, stride: Int,
                           padding: Int) {
        self.channels = channels
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.stride = stride
        self.padding = padding
    }

    @inlinable public var outHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    @inlinable public var outWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    /// Rows of the column matrix: C·kh·kw.
    @inlinable public var patchSize: Int { channels * kernelHeight * kernelWidth }
    @inlinable public var outPlane: Int { outHeight * outWidth }
    @inlinable public var inPlane: Int { height * width }
    /// Stride 1 with "same" padding: every im2col row is the image plane shifted.
    @inlinable public var isSameShape: Bool { stride == 1 && outHeight == height && outWidth == width }
    /// Stride 1, "same" padding, and a plane wider and taller than the padding: each kernel tap
    /// reads the whole plane shifted by one offset (a narrower plane has taps wholly outside it).
    @inlinable public var shiftsWithinPlane: Bool { isSameShape && padding < width && padding < height }
    /// Planes of at most this many values take the kernels' whole-vector `im2col` and `col2im`
    /// (per-tap masks; on 7×7 and 14×14 planes the per-tap edge work of shifted copies cost more
    /// than the copies) and may be packed straight from the images (`packedIm2col`).
    public static let smallPlane = 1024

    /// For output column `ox` and kernel column `j`: the input x = ox·stride + j − padding.
    /// Returns the range of ox whose x lies inside 0..<width, within 0...outWidth even when
    /// none does (an image narrower than the padding).
    @inlinable @inline(__always) public func validColumns(_ j: Int) -> Range<Int> {
        // x ≥ 0 ⇔ ox ≥ ⌈(padding − j) / stride⌉ ; x < width ⇔ ox ≤ ⌊(width − 1 + padding − j) / stride⌋
        let lo = Swift.min(outWidth, Swift.max(0, (padding - j + stride - 1) / stride))
        let hiInclusive = (width - 1 + padding - j)
        let hi = hiInclusive < 0 ? 0 : Swift.min(outWidth, hiInclusive / stride + 1)
        return lo..<Swift.max(lo, hi)
    }
}

/// The window of a dilated convolution over one (C, H, W) sample: taps d pixels apart.
@frozen public struct DilatedWindow {
    public let channels, height, width: Int
    public let kernel, stride, padding, dilation: Int

    @inlinable public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int,
                           dilation: Int) {
        self.channels = channels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    /// The extent of the kernel on the input: d·(k − 1) + 1.
    @inlinable public var span: Int { dilation * (kernel - 1) + 1 }
    @inlinable public var outHeight: Int { (height + 2 * padding - span) / stride + 1 }
    @inlinable public var outWidth: Int { (width + 2 * padding - span) / stride + 1 }
    @inlinable public var patchSize: Int { channels * kernel * kernel }
    @inlinable public var outPlane: Int { outHeight * outWidth }
    @inlinable public var inPlane: Int { height * width }
}

/// The k column-shifted copies of one (H, W) image that the taps of a k×k, stride-1,
/// "same"-padded (p = k / 2) convolution read.
///
/// Plane j (dx = j − p) holds x[y][x + dx], 0 where x + dx falls outside the image, with p rows
/// of zeros above and below. Tap (i, j) at output pixel q = y·W + x then reads
/// `tap(i, j)[q]`, so every tap is one contiguous, unmasked row of H·W floats.
@frozen public struct ShiftedPlanes {
    public let height, width, kernel: Int

    @inlinable public init(height: Int, width: Int, kernel: Int) {
        self.height = height
        self.width = width
        self.kernel = kernel
    }

    @inlinable public var padding: Int { kernel / 2 }
    @inlinable public var pixels: Int { height * width }
    /// Floats per plane: the padded rows, plus one vector of slack so full-vector loads at
    /// the last pixels stay inside the buffer.
    @inlinable public var planeStride: Int { (height + 2 * padding) * width + 16 }
    /// Floats of scratch for all k planes.
    @inlinable public var scratchCount: Int { kernel * planeStride }

    /// Tap (i, j): element q is the input under kernel position (i, j) for output pixel q.
    @inlinable @inline(__always) public func tap(_ i: Int, _ j: Int, of planes: UnsafePointer<Float>) -> UnsafePointer<Float> {
        planes + j * planeStride + i * width
    }
}

/// The tiles of a 3×3, stride-1, padding-1 convolution computed by Winograd's F(2×2, 3×3): each
/// tile is a 2×2 block of output pixels, read from the 4×4 block of input around it.
///
/// Tile (ty, tx) of an (H, W) plane covers output rows 2ty…2ty + 1 and columns 2tx…2tx + 1
/// (⌈H/2⌉ × ⌈W/2⌉ tiles; an odd side's last tile has one row or column past the plane, computed
/// and dropped) and reads input rows 2ty − 1…2ty + 2, columns 2tx − 1…2tx + 2 (0 outside the
/// plane). Tile t of a run of samples is sample t / tilesPerImage, then row by row.
/// Transformed values are stored as 16·C rows of `ld` floats: component ξ = 4i + j of channel c
/// for tile t at (16c + ξ)·ld + t, each component a (C, T) matrix with rows 16·ld apart for a
/// GEMM (a channel's 16 rows together, where the transforms read and write them).
@frozen public struct WinogradTiles {
    public let channels, height, width: Int

    @inlinable public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    @inlinable public var tileRows: Int { (height + 1) / 2 }
    @inlinable public var tileColumns: Int { (width + 1) / 2 }
    @inlinable public var tilesPerImage: Int { tileRows * tileColumns }
    @inlinable public var plane: Int { height * width }
    /// A plane with a border of zeros: one row and column before, and enough after for every
    /// tile's 4×4 block (2·⌈H/2⌉ + 2 rows), rows a whole number of 16-float vectors apart.
    @inlinable public var paddedRows: Int { 2 * tileRows + 2 }
    @inlinable public var paddedStride: Int { (2 * tileColumns + 2 + 15) / 16 * 16 }
    @inlinable public var paddedCount: Int { paddedRows * paddedStride }
    /// Floats of scratch a transform of `samples` images needs: a padded plane and a vector of
    /// slack, then the largest of four padded rows, 8 rows of `rowStride` (4 sums per tile for
    /// two channels) and 128 floats per eight tiles of a plane (16 sums), and a vector of slack.
    @inlinable public func scratchCount(samples: Int) -> Int {
        let rows = 4 * paddedStride, sums = 8 * WinogradTiles.rowStride(tiles: samples * tilesPerImage)
        return paddedCount + 16 + Swift.max(rows, sums, 128 * tileRows * ((tileColumns + 7) / 8)) + 16
    }
    /// The row stride of the transformed (16·C, T) matrices of T tiles: room for a whole vector
    /// of 16 past the last tile, a multiple of 16.
    @inlinable public static func rowStride(tiles: Int) -> Int { (tiles + 15 + 15) / 16 * 16 }
}

/// The 2×2 pooling windows of a 3×3, stride-1, padding-1 convolution's (H, W) output, seen from
/// its single-channel input: window (py, px) covers output pixels (2py + dy, 2px + dx), its
/// phases c = 2dy + dx, and output phase (dy, dx) under tap (i, j) reads input pixel
/// (2py + dy + i − 1, 2px + dx + j − 1), which is grid (dy + i, dx + j) at (py, px), grid
/// (a, b) (a, b in 0…3) holding input pixel (2py + a − 1, 2px + b − 1), 0 outside the image.
/// The `windows` = (H/2)·(W/2) windows, row by row, are taken 16 at a time: vector v of grid
/// 4a + b is at 256·v + 16·(4a + b), so that the 16 grids' vectors of a block of windows are
/// one 1 KB block (finite values past the last window). Grid (a + 2, b) is grid (a, b) one row of
/// windows on: the blocks are copied from 8 planes of grids a = 0, 1 (H/2 + 1 rows of windows
/// each, `planeStride` floats apart), which follow them in the scratch.
@frozen public struct PhaseGrids {
    public let height, width: Int

    @inlinable public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    @inlinable public var outHeight: Int { height / 2 }
    @inlinable public var outWidth: Int { width / 2 }
    @inlinable public var windows: Int { outHeight * outWidth }
    /// Vectors of 16 windows (the last one partial when 16 does not divide `windows`).
    @inlinable public var vectors: Int { (windows + 15) / 16 }
    /// Floats from one plane to the next: room for the last vector of grid (a + 2, b) one row on
    /// and for the last row's store of 16.
    @inlinable public var planeStride: Int { 16 * vectors + outWidth + 16 }
    /// Floats of scratch for the 16 grids' blocks, then the 8 planes.
    @inlinable public var scratchCount: Int { 256 * vectors + 8 * planeStride }
    /// A window's position code where its pooled output is 0 (not above 0): the ReLU passes no
    /// gradient there. The other codes are the phase of the maximum, 0 1 / 2 3.
    public static let noGradient: UInt8 = 4
}
