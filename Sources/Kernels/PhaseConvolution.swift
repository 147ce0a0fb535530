// A CNN's first convolution (one input channel, 3×3, "same") and its block's BatchNorm → ReLU →
// 2×2 max-pool, computed on the four phases of each pooling window (`PhaseGrids`).
//
// Each phase of a channel's output is 9 multiply-adds over whole vectors of 16 windows, and the
// pool is the largest of four vectors: no columns to split into even and odd ones or to merge
// back, and the convolution's output is never stored.
import SmallNetKernels

extension Variant {
    /// The 16 grids of `PhaseGrids` from the shifted planes `fillShiftedPlanes` wrote for a 3×3
    /// kernel (`planes`), into `grids` (`g.scratchCount` floats). Grid (a, b) is tap
    /// (min(a, 2), min(b, 2)) read from row 2py + [a = 3] and column 2px + [b = 3]: each grid's
    /// rows first into a plain row of windows (eight windows at a time from the even lanes of 16
    /// values, the last eight of a row overlapping the ones before, a row's last store running
    /// into the next row, written after it), then its vectors into their blocks.
    public static func fillPhaseGrids(_ g: PhaseGrids, planes: UnsafePointer<Float>, grids: UnsafeMutablePointer<Float>) {
        let s = ShiftedPlanes(height: g.height, width: g.width, kernel: 3), ho = g.outHeight, wo = g.outWidth
        let windows = g.windows, vectors = g.vectors
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * vectors + 16) { buffer in
            let plain = buffer.baseAddress!
            for a in 0..<4 {
                for b in 0..<4 {
                    let tap = s.tap(Swift.min(a, 2), Swift.min(b, 2), of: planes) + (a == 3 ? g.width : 0) + (b == 3 ? 1 : 0)
                    for py in 0..<ho {
                        let row = tap + 2 * py * g.width, out = plain + py * wo
                        var px = 0
                        while px < wo {
                            let start = wo >= 8 ? Swift.min(px, wo - 8) : 0
                            store8(evenLanes(load16(row + 2 * start)), out + start)
                            px = start + 8
                        }
                    }
                    (plain + windows).update(repeating: 0, count: 16 * vectors - windows)
                    for v in 0..<vectors { store16(load16(plain + 16 * v), grids + 256 * v + 16 * (4 * a + b)) }
                }
            }
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
                    @inline(__always) func z(_ x: Vec16, _ scale: Vec16, _ shift: Vec16) -> Vec16 {
                        let t = x * scale + shift
                        return t.replacing(with: 0, where: t .<= Vec16())
                    }
                    let (mu, cu) = phaseMaxima(z(xu0, scaleU, shiftU), z(xu1, scaleU, shiftU), z(xu2, scaleU, shiftU),
                                               z(xu3, scaleU, shiftU))
                    storeWindows(mu, cu, output + o * windows, position + o * windows, at: p, windows: windows, tail: tail)
                    if second > o {
                        let (mv, cv) = phaseMaxima(z(xv0, scaleV, shiftV), z(xv1, scaleV, shiftV), z(xv2, scaleV, shiftV),
                                                   z(xv3, scaleV, shiftV))
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
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { tailBuffer in
            let tail = tailBuffer.baseAddress!
            for o in 0..<outChannels {
                let dy = gradient + o * windows, code = position + o * windows
                let closed = SIMD16<Int32>(repeating: Int32(PhaseGrids.noGradient))
                var d0 = Vec16(), d1 = Vec16(), d2 = Vec16(), d3 = Vec16(), d4 = Vec16(), d5 = Vec16(), d6 = Vec16()
                var d7 = Vec16(), d8 = Vec16(), total = Vec16()
                var p = 0
                while p < windows {
                    var passed: Vec16, c: SIMD16<Int32>
                    if p + 16 <= windows {
                        c = widened(UnsafeRawPointer(code + p).loadUnaligned(as: SIMD16<UInt8>.self))
                        passed = load16(dy + p)
                    } else {
                        // The last vector of a plane, through memory: 0 past the plane.
                        tail.update(repeating: 0, count: 32)
                        tail.update(from: dy + p, count: windows - p)
                        let codes = UnsafeMutableRawPointer(tail + 16).assumingMemoryBound(to: UInt8.self)
                        codes.update(from: code + p, count: windows - p)
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

/// `windowMaxima` on 16 windows: each largest of the four phases (Swift.max's rule) and the
/// first phase holding it.
@_transparent
func phaseMaxima(_ a: Vec16, _ b: Vec16, _ c: Vec16, _ d: Vec16) -> (maxima: Vec16, codes: SIMD16<Int32>) {
    @inline(__always) func larger(_ x: Vec16, _ y: Vec16) -> Vec16 { x.replacing(with: y, where: y .>= x) }
    let m = larger(larger(a, b), larger(c, d))
    let zero = SIMD16<Int32>(), one = SIMD16<Int32>(repeating: 1)
    let notA = zero.replacing(with: one, where: a .!= m), notB = zero.replacing(with: one, where: b .!= m)
    let notC = zero.replacing(with: one, where: c .!= m)
    return (m, notA &* (one &+ notB &* (one &+ notC)))
}

/// Stores the maxima of windows p..<p + 16 of a plane of `windows` and their position codes (the
/// phase, or `PhaseGrids.noGradient` where the maximum is not above 0) into `y` and `at`; the last
/// vector of a plane goes through `tail` (32 floats), its lanes past the plane not written.
@inline(__always)
func storeWindows(_ m: Vec16, _ phase: SIMD16<Int32>, _ y: UnsafeMutablePointer<Float>, _ at: UnsafeMutablePointer<UInt8>,
                  at p: Int, windows: Int, tail: UnsafeMutablePointer<Float>) {
    let closed = SIMD16<Int32>(repeating: Int32(PhaseGrids.noGradient))
    let code = narrowed(phase.replacing(with: closed, where: m .<= Vec16()))
    if p + 16 <= windows {
        store16(m, y + p)
        UnsafeMutableRawPointer(at + p).storeBytes(of: code, as: SIMD16<UInt8>.self)
    } else {
        store16(m, tail)
        let codes = UnsafeMutableRawPointer(tail + 16)
        codes.storeBytes(of: code, as: SIMD16<UInt8>.self)
        y.advanced(by: p).update(from: tail, count: windows - p)
        at.advanced(by: p).update(from: codes.assumingMemoryBound(to: UInt8.self), count: windows - p)
    }
}

