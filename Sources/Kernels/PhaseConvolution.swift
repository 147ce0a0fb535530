// A CNN's first convolution (one input channel, 3×3, "same") and its block's BatchNorm → ReLU →
// 2×2 max-pool, computed on the four phases of each pooling window (`PhaseGrids`).
//
// Each phase of a channel's output is 9 multiply-adds over whole vectors of 16 windows, and the
// pool is the largest of four vectors: no columns to split into even and odd ones or to merge
// back, and the convolution's output is never stored.
import SmallNetKernels

extension Variant {
    /// The 16 grids of `PhaseGrids` from one (H, W) image, into `grids` (`g.scratchCount`
    /// floats). Plane (a, b) of a = 0, 1 at window (py, px) is pixel (2py + a − 1, 2px + b − 1):
    /// row 2py + a, column 2px + b of the image within a border of zeros, a row of windows 16 at a
    /// time from the even lanes of 32 values (the last 16 of a row overlapping the ones before), a
    /// row's last store running into the next row, written after it. Then every grid's vectors
    /// into their blocks, grid (a + 2, b) from plane (a, b) one row on.
    public static func fillPhaseGrids(_ g: PhaseGrids, image: UnsafePointer<Float>, grids: UnsafeMutablePointer<Float>) {
        let h = g.height, w = g.width, ho = g.outHeight, wo = g.outWidth, vectors = g.vectors
        let planes = grids + 256 * vectors, planeStride = g.planeStride
        // The bordered image: H + 2 rows of W + 2, then slack for the last loads of 32.
        let stride = w + 2, bordered = (h + 2) * stride + 64
        withUnsafeTemporaryAllocation(of: Float.self, capacity: bordered) { buffer in
            let padded = buffer.baseAddress!
            padded.update(repeating: 0, count: bordered)
            for y in 0..<h { copy(padded + (y + 1) * stride + 1, image + y * w, count: w) }
            let chunks = (wo + 15) / 16, lastStart = Swift.max(wo - 16, 0), rows = (ho + 1) * wo
            for k in 0..<8 {
                var row = padded + (k / 4) * stride + k % 4, out = planes + k * planeStride
                for _ in 0...ho {
                    for chunk in 0..<chunks {
                        let start = Swift.min(chunk &* 16, lastStart), at = row + 2 &* start
                        store16(evenLanes(load16(at), load16(at + 16)), out + start)
                    }
                    row += 2 &* stride
                    out += wo
                }
                (planes + k * planeStride + rows).update(repeating: 0, count: planeStride - rows)
            }
        }
        for k in 0..<16 {
            let a = k / 4, b = k % 4
            let plane = planes + (4 * (a % 2) + b) * planeStride + (a / 2) * wo
            for v in 0..<vectors { store16(load16(plane + 16 &* v), grids + (256 &* v &+ 16 &* k)) }
        }
    }

    /// For every channel o of one sample (weight (C, 9), `coefficients` (scale, shift) per
    /// channel as 2·C floats): each window's four phases x_c = Σ_t w[o, t]·tap_t in tap order (the
    /// numbers of `directConvolutionForward`), z_c = max(0, x_c·scale + shift), and the window's
    /// largest z and its phase (the first of the largest, as `maxPool2x2`), or
    /// `PhaseGrids.noGradient` where the largest z is not above 0, into `output` and `position`
    /// (C planes of `g.windows`). Two channels at a time (the last one again past C): eight
    /// independent sums share each grid vector.
    public static func phaseConvolutionReLUMaxPool(_ g: PhaseGrids, grids: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                                   outChannels: Int, coefficients: UnsafePointer<Float>,
                                                   output: UnsafeMutablePointer<Float>, position: UnsafeMutablePointer<UInt8>) {
        let windows = g.windows
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { tailBuffer in
            let tail = tailBuffer.baseAddress!
            var o = 0
            while o < outChannels {
                let second = Swift.min(o + 1, outChannels - 1)
                let u = weight + 9 * o, v = weight + 9 * second
                let scaleU = Vec16(repeating: coefficients[2 * o]), shiftU = Vec16(repeating: coefficients[2 * o + 1])
                let scaleV = Vec16(repeating: coefficients[2 * second]), shiftV = Vec16(repeating: coefficients[2 * second + 1])
                var p = 0
                while p < windows {
                    let block = grids + 16 &* p  // p = 16·v: block v at 256·v
                    @inline(__always) func grid(_ a: Int, _ b: Int) -> Vec16 { load16(block + 16 * (4 * a + b)) }
                    var xu0 = Vec16(), xu1 = Vec16(), xu2 = Vec16(), xu3 = Vec16()
                    var xv0 = Vec16(), xv1 = Vec16(), xv2 = Vec16(), xv3 = Vec16()
                    // Tap (i, j) for all four phases of both channels: phase (dy, dx) reads grid (dy + i, dx + j).
                    @inline(__always) func tap(_ i: Int, _ j: Int) {
                        let wu = Vec16(repeating: u[3 * i + j]), wv = Vec16(repeating: v[3 * i + j])
                        let g0 = grid(i, j), g1 = grid(i, j + 1), g2 = grid(i + 1, j), g3 = grid(i + 1, j + 1)
                        xu0 = multiplyAdd(xu0, wu, g0); xv0 = multiplyAdd(xv0, wv, g0)
                        xu1 = multiplyAdd(xu1, wu, g1); xv1 = multiplyAdd(xv1, wv, g1)
                        xu2 = multiplyAdd(xu2, wu, g2); xv2 = multiplyAdd(xv2, wv, g2)
                        xu3 = multiplyAdd(xu3, wu, g3); xv3 = multiplyAdd(xv3, wv, g3)
                    }
                    tap(0, 0); tap(0, 1); tap(0, 2); tap(1, 0); tap(1, 1); tap(1, 2); tap(2, 0); tap(2, 1); tap(2, 2)
                    let (mu, cu) = reluPhaseMaxima(xu0 * scaleU + shiftU, xu1 * scaleU + shiftU, xu2 * scaleU + shiftU,
                                                   xu3 * scaleU + shiftU)
                    storeWindows(mu, cu, output + o * windows, position + o * windows, at: p, windows: windows, tail: tail)
                    if second > o {
                        let (mv, cv) = reluPhaseMaxima(xv0 * scaleV + shiftV, xv1 * scaleV + shiftV, xv2 * scaleV + shiftV,
                                                       xv3 * scaleV + shiftV)
                        storeWindows(mv, cv, output + second * windows, position + second * windows, at: p, windows: windows,
                                     tail: tail)
                    }
                    p += 16
                }
                o += 2
            }
        }
    }

    /// The adjoint of `phaseConvolutionReLUMaxPool`'s convolution for one sample, through its
    /// ReLU and pool: with dz_c the pooled gradient g at the window's phase c = its position code
    /// (0 at the other phases, and at every phase where the code is `PhaseGrids.noGradient`),
    /// dWeightT[t·C + o] += Σ_windows Σ_c dz_c·tap_t (tap t of phase c), and sums[o] = Σ dz. g and
    /// `position` are C planes of `g.windows`. Each sum in 16 lanes of windows, then across them.
    public static func phaseWeightGradient(_ g: PhaseGrids, grids: UnsafePointer<Float>, gradient: UnsafePointer<Float>,
                                           position: UnsafePointer<UInt8>, outChannels: Int,
                                           dWeightT: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>) {
        let windows = g.windows
        // The lanes of a plane's last vector past the plane.
        let pastPlane = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            .>= SIMD16<Int32>(repeating: Int32(truncatingIfNeeded: windows - 16 * (g.vectors - 1)))
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { tailBuffer in
            let tail = tailBuffer.baseAddress!
            for o in 0..<outChannels {
                let dy = gradient + o * windows, code = position + o * windows
                // Floats from dy to the end of the sample's planes: a vector's 16 lanes are read in
                // place as long as they lie within them.
                let readable = (outChannels - o) * windows
                let closed = SIMD16<Int32>(repeating: Int32(PhaseGrids.noGradient))
                var d0 = Vec16(), d1 = Vec16(), d2 = Vec16(), d3 = Vec16(), d4 = Vec16(), d5 = Vec16(), d6 = Vec16()
                var d7 = Vec16(), d8 = Vec16(), total = Vec16()
                var p = 0
                while p < windows {
                    var passed: Vec16, c: SIMD16<Int32>
                    if p + 16 <= readable {
                        // The last vector of a plane reads into the planes after it: those lanes pass nothing.
                        c = widened(UnsafeRawPointer(code + p).loadUnaligned(as: SIMD16<UInt8>.self))
                        passed = load16(dy + p)
                        if p + 16 > windows { passed.replace(with: 0, where: pastPlane) }
                    } else {
                        // The last vector of the last planes, through memory: 0 past the plane.
                        store16(Vec16(), tail)
                        store16(Vec16(), tail + 16)
                        copyPrefix(of: dy + p, count: windows - p, to: tail)
                        let codes = UnsafeMutableRawPointer(tail + 16)
                        copyPrefix(of: UnsafeRawPointer(code + p), count: windows - p, to: codes)
                        passed = load16(tail)
                        c = widened(UnsafeRawPointer(codes).loadUnaligned(as: SIMD16<UInt8>.self))
                    }
                    passed.replace(with: 0, where: c .== closed)
                    total += passed
                    let block = grids + 16 &* p  // p = 16·v: block v at 256·v
                    @inline(__always) func grid(_ a: Int, _ b: Int) -> Vec16 { load16(block + 16 * (4 * a + b)) }
                    @inline(__always) func phase(_ value: Int32) -> Vec16 {
                        Vec16().replacing(with: passed, where: c .== SIMD16<Int32>(repeating: value))
                    }
                    let z0 = phase(0), z1 = phase(1), z2 = phase(2), z3 = phase(3)
                    @inline(__always) func add(_ d: inout Vec16, _ i: Int, _ j: Int) {
                        d = multiplyAdd(d, z0, grid(i, j)); d = multiplyAdd(d, z1, grid(i, j + 1))
                        d = multiplyAdd(d, z2, grid(i + 1, j)); d = multiplyAdd(d, z3, grid(i + 1, j + 1))
                    }
                    add(&d0, 0, 0); add(&d1, 0, 1); add(&d2, 0, 2); add(&d3, 1, 0); add(&d4, 1, 1); add(&d5, 1, 2)
                    add(&d6, 2, 0); add(&d7, 2, 1); add(&d8, 2, 2)
                    p += 16
                }
                let c = outChannels
                dWeightT[o] += laneTreeSum(d0); dWeightT[c + o] += laneTreeSum(d1); dWeightT[2 * c + o] += laneTreeSum(d2)
                dWeightT[3 * c + o] += laneTreeSum(d3); dWeightT[4 * c + o] += laneTreeSum(d4)
                dWeightT[5 * c + o] += laneTreeSum(d5); dWeightT[6 * c + o] += laneTreeSum(d6)
                dWeightT[7 * c + o] += laneTreeSum(d7); dWeightT[8 * c + o] += laneTreeSum(d8)
                sums[o] = laneTreeSum(total)
            }
        }
    }
}

/// The pooled outputs of 16 windows from their four phases' normalised values t (a, b, c, d):
/// max(0, largest t), and the first phase holding the largest t, or `PhaseGrids.noGradient`
/// where it is not above 0 — `windowMaxima` on max(0, t), with the ReLU taken once, after the
/// pool (where the largest t is positive the ReLU keeps it and its phase; elsewhere the output is
/// 0 without a position). The largest by y > x, one maximum instruction each where y ≥ x takes a
/// comparison and a blend: they differ only between −0 and +0, both 0 after the ReLU.
@_transparent
func reluPhaseMaxima(_ a: Vec16, _ b: Vec16, _ c: Vec16, _ d: Vec16) -> (maxima: Vec16, codes: SIMD16<UInt8>) {
    @inline(__always) func larger(_ x: Vec16, _ y: Vec16) -> Vec16 { x.replacing(with: y, where: y .> x) }
    let m = larger(larger(a, b), larger(c, d))
    let zero = SIMD16<Int32>(), one = SIMD16<Int32>(repeating: 1)
    let notA = zero.replacing(with: one, where: a .!= m), notB = zero.replacing(with: one, where: b .!= m)
    let notC = zero.replacing(with: one, where: c .!= m)
    let closed = m .<= Vec16()
    let codes = (notA &* (one &+ notB &* (one &+ notC))).replacing(with: Int32(PhaseGrids.noGradient), where: closed)
    return (m.replacing(with: 0, where: closed), narrowed(codes))
}

/// `target[0..<count] = source[0..<count]` for a count below 16, in pieces of 8, 4, 2 and 1:
/// no call (a call to memmove spills every vector register around it).
@inline(__always)
func copyPrefix(of source: UnsafePointer<Float>, count: Int, to target: UnsafeMutablePointer<Float>) {
    copyPrefix(of: UnsafeRawPointer(source), count: 4 * count, to: UnsafeMutableRawPointer(target))
}

/// `copyPrefix` in bytes, for a count below 64.
@inline(__always)
func copyPrefix(of source: UnsafeRawPointer, count: Int, to target: UnsafeMutableRawPointer) {
    var i = 0
    if count - i >= 32 { (target + i).storeBytes(of: (source + i).loadUnaligned(as: SIMD32<UInt8>.self), as: SIMD32<UInt8>.self); i += 32 }
    if count - i >= 16 { (target + i).storeBytes(of: (source + i).loadUnaligned(as: SIMD16<UInt8>.self), as: SIMD16<UInt8>.self); i += 16 }
    if count - i >= 8 { (target + i).storeBytes(of: (source + i).loadUnaligned(as: UInt64.self), as: UInt64.self); i += 8 }
    if count - i >= 4 { (target + i).storeBytes(of: (source + i).loadUnaligned(as: UInt32.self), as: UInt32.self); i += 4 }
    if count - i >= 2 { (target + i).storeBytes(of: (source + i).loadUnaligned(as: UInt16.self), as: UInt16.self); i += 2 }
    if count - i >= 1 { (target + i).storeBytes(of: source.load(fromByteOffset: i, as: UInt8.self), as: UInt8.self) }
}

/// Stores the outputs of windows p..<p + 16 of a plane of `windows` and their position codes into
/// `y` and `at`; the last vector of a plane goes through `tail` (32 floats), its lanes past the
/// plane not written.
@inline(__always)
func storeWindows(_ m: Vec16, _ code: SIMD16<UInt8>, _ y: UnsafeMutablePointer<Float>, _ at: UnsafeMutablePointer<UInt8>,
                  at p: Int, windows: Int, tail: UnsafeMutablePointer<Float>) {
    if p + 16 <= windows {
        store16(m, y + p)
        UnsafeMutableRawPointer(at + p).storeBytes(of: code, as: SIMD16<UInt8>.self)
    } else {
        store16(m, tail)
        let codes = UnsafeMutableRawPointer(tail + 16)
        codes.storeBytes(of: code, as: SIMD16<UInt8>.self)
        copyPrefix(of: tail, count: windows - p, to: y + p)
        copyPrefix(of: UnsafeRawPointer(codes), count: windows - p, to: UnsafeMutableRawPointer(at + p))
    }
}

