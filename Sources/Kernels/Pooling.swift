// Pooling kernels over one (H, W) plane: max (k×k and the common 2×2) and average, unpadded.

extension Variant {
    /// k×k, stride-s max pooling of one plane: the maximum of each window and its position i·k + j
    /// (the first one in row-major order on ties).
    public static func maxPoolPlane(_ x: UnsafePointer<Float>, width w: Int, kernel k: Int, stride s: Int,
                                    outHeight ho: Int, outWidth wo: Int, output y: UnsafeMutablePointer<Float>,
                                    position: UnsafeMutablePointer<UInt8>) {
        for oy in 0..<ho {
            for ox in 0..<wo {
                let origin = x + oy * s * w + ox * s
                var best = 0, value = origin[0]
                for i in 0..<k {
                    for j in 0..<k where origin[i * w + j] > value {
                        value = origin[i * w + j]
                        best = i * k + j
                    }
                }
                y[oy * wo + ox] = value
                position[oy * wo + ox] = UInt8(truncatingIfNeeded: best)
            }
        }
    }

    /// The adjoint of `maxPoolPlane`: dx = 0, then each dy added at its window's max position
    /// (windows may overlap when s < k).
    public static func maxPoolPlaneBackward(_ dy: UnsafePointer<Float>, position: UnsafePointer<UInt8>, kernel k: Int,
                                            stride s: Int, outHeight ho: Int, outWidth wo: Int, height h: Int,
                                            width w: Int, dInput dx: UnsafeMutablePointer<Float>) {
        dx.update(repeating: 0, count: h * w)
        for oy in 0..<ho {
            for ox in 0..<wo {
                let p = Int(position[oy * wo + ox])
                dx[(oy * s + p / k) * w + ox * s + p % k] += dy[oy * wo + ox]
            }
        }
    }

    /// 2×2, stride-2 max pooling of one plane: the maximum of each window and its position
    /// (0 1 / 2 3, the first one in row-major order on ties). Eight windows at a time (four in rows
    /// of 4–7 windows), the last vector of a row overlapping the one before it: a window computed
    /// twice gets the same numbers. Branch-free: random data makes every comparison a coin toss.
    public static func maxPool2x2(_ x: UnsafePointer<Float>, width w: Int, outHeight ho: Int, outWidth wo: Int,
                                  output y: UnsafeMutablePointer<Float>, position: UnsafeMutablePointer<UInt8>) {
        for oy in 0..<ho {
            let r0 = x + 2 * oy * w, r1 = r0 + w
            let out = y + oy * wo, code = position + oy * wo
            let spills = windowVectorSpills(row: oy, outHeight: ho, outWidth: wo, height: 2 * ho, width: w)
            forEachWindowVector(wo, spills: spills, eight: { maxPool2x2Eight(r0, r1, $0, out, code) },
                                four: { maxPool2x2Four(r0, r1, $0, $1, out, code) }) { ox in
                let a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1]
                let m = Swift.max(Swift.max(a, b), Swift.max(c, d))
                out[ox] = m
                let notA = unsafeBitCast(a != m, to: UInt8.self), notB = unsafeBitCast(b != m, to: UInt8.self)
                let notC = unsafeBitCast(c != m, to: UInt8.self)
                code[ox] = notA &* (1 &+ notB &* (1 &+ notC))
            }
        }
    }

    /// The adjoint of `maxPool2x2` for one plane: each dy goes to its window's max position; the
    /// other positions, and a last row or column no window covers (odd sizes), get 0. Vectors as
    /// in `maxPool2x2`.
    public static func maxPool2x2Backward(_ dy: UnsafePointer<Float>, position: UnsafePointer<UInt8>, outHeight ho: Int,
                                          outWidth wo: Int, height h: Int, width w: Int,
                                          dInput dx: UnsafeMutablePointer<Float>) {
        for oy in 0..<ho {
            let r0 = dx + 2 * oy * w, r1 = r0 + w
            let grad = dy + oy * wo, code = position + oy * wo
            @inline(__always) func window(_ ox: Int) {
                let g = grad[ox], p = code[ox]
                r0[2 * ox] = p == 0 ? g : 0
                r0[2 * ox + 1] = p == 1 ? g : 0
                r1[2 * ox] = p == 2 ? g : 0
                r1[2 * ox + 1] = p == 3 ? g : 0
            }
            // Rows of three windows one by one: measured faster here than the vector of three.
            let spills = windowVectorSpills(row: oy, outHeight: ho, outWidth: wo, height: h, width: w)
            forEachWindowVector(wo, spills: spills, eight: { maxPool2x2BackwardEight(grad, code, $0, r0, r1) },
                                four: { ox, windows in
                                    if windows == 4 { maxPool2x2BackwardFour(grad, code, ox, r0, r1) }
                                    else { for o in ox..<(ox + windows) { window(o) } }
                                }, one: window)
            if 2 * wo < w { r0[w - 1] = 0; r1[w - 1] = 0 }
        }
        if 2 * ho < h { (dx + (h - 1) * w).update(repeating: 0, count: w) }
    }

    /// k×k, stride-s average pooling of one plane: y = (Σ window) · `scale` (1/k²).
    public static func avgPoolPlane(_ x: UnsafePointer<Float>, width w: Int, kernel k: Int, stride s: Int,
                                    outHeight ho: Int, outWidth wo: Int, scale: Float,
                                    output y: UnsafeMutablePointer<Float>) {
        for oy in 0..<ho {
            for ox in 0..<wo {
                var total: Float = 0
                for i in 0..<k { for j in 0..<k { total += x[(oy * s + i) * w + ox * s + j] } }
                y[oy * wo + ox] = total * scale
            }
        }
    }

    /// The adjoint of `avgPoolPlane`: dx = 0, then dy·`scale` added over each window.
    public static func avgPoolPlaneBackward(_ dy: UnsafePointer<Float>, kernel k: Int, stride s: Int, outHeight ho: Int,
                                            outWidth wo: Int, height h: Int, width w: Int, scale: Float,
                                            dInput dx: UnsafeMutablePointer<Float>) {
        dx.update(repeating: 0, count: h * w)
        for oy in 0..<ho {
            for ox in 0..<wo {
                let g = dy[oy * wo + ox] * scale
                for i in 0..<k { for j in 0..<k { dx[(oy * s + i) * w + ox * s + j] += g } }
            }
        }
    }
}

// MARK: 2×2 windows, a vector of them at a time

/// Walks a pooled row of `wo` windows: `eight(ox)` for windows ox..<ox + 8, the last call
/// overlapping the one before when 8 does not divide `wo`; in a shorter row that `spills`
/// (`windowVectorSpills`) one `eight(0)`, whose lanes past the row read and write the rows
/// below; otherwise in rows of 4–7 windows `four(ox, 4)` twice (overlapping); in rows of 3 (7×7
/// and 6×6 planes) `four(0, 3)`, whose loads and stores stop at the third window
/// (`loadWindowPairs`, `storeWindows`); in shorter rows `one(ox)` per window.
@inline(__always)
func forEachWindowVector(_ wo: Int, spills: Bool, eight: (Int) -> Void, four: (_ ox: Int, _ windows: Int) -> Void,
                         one: (Int) -> Void) {
    if wo >= 8 || spills {
        var ox = 0
        while ox + 8 <= wo { eight(ox); ox += 8 }
        if ox < wo { eight(Swift.max(wo - 8, 0)) }
    } else if wo >= 4 {
        four(0, 4)
        four(wo - 4, 4)
    } else if wo == 3 {
        four(0, 3)
    } else {
        for ox in 0..<wo { one(ox) }
    }
}

/// Whether a vector of eight windows from the start of pooled row `oy` of a plane (`ho` rows of
/// `wo` = 4–7 windows, over an input plane `h` × `w`) stays inside the plane: its pooled values
/// (eight from the row's first) and its input rows (16 values from the starts of rows 2·oy and
/// 2·oy + 1). The values past the row are then those of the rows below, which a pass over the
/// rows in order reads as they are and writes again on their turn. 14×14 planes: all rows but
/// the last.
@inline(__always)
func windowVectorSpills(row oy: Int, outHeight ho: Int, outWidth wo: Int, height h: Int, width w: Int) -> Bool {
    (4..<8).contains(wo) && (ho - oy) * wo >= 8 && (h - 2 * oy - 1) * w >= 16
}

// Loads and stores of `windows` (3 or 4) consecutive 2×2 windows, in the first lanes of an
// 8-lane vector (16 for the input rows' pairs): with 3 windows nothing past the third is read or
// written; the lanes past the windows read as 0. Vectors are built and taken apart lane by lane:
// the standard library's halves (`lowHalf`, `evenHalf`, `init(lowHalf:highHalf:)`) are generic
// code that the optimizer may leave out of line, one symbol shared by every kernel variant.

@inline(__always) private func loadVector<V: SIMD>(_ p: UnsafeRawPointer, _: V.Type) -> V { p.loadUnaligned(as: V.self) }
@inline(__always) private func storeVector<V: SIMD>(_ v: V, _ p: UnsafeMutableRawPointer) { p.storeBytes(of: v, as: V.self) }

/// The 2·`windows` floats of one input row under the windows (lanes past them 0).
@inline(__always) func loadWindowPairs(_ p: UnsafePointer<Float>, _ windows: Int) -> SIMD16<Float> {
    if windows == 4 {
        let a = loadVector(p, SIMD8<Float>.self)
        return SIMD16(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], 0, 0, 0, 0, 0, 0, 0, 0)
    }
    let a = loadVector(p, SIMD4<Float>.self), b = loadVector(p + 4, SIMD2<Float>.self)
    return SIMD16(a[0], a[1], a[2], a[3], b[0], b[1], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}
/// The windows' values of a pooled row (lanes past them 0).
@inline(__always) func loadWindows(_ p: UnsafePointer<Float>, _ windows: Int) -> SIMD8<Float> {
    if windows == 4 {
        let a = loadVector(p, SIMD4<Float>.self)
        return SIMD8(a[0], a[1], a[2], a[3], 0, 0, 0, 0)
    }
    let a = loadVector(p, SIMD2<Float>.self)
    return SIMD8(a[0], a[1], p[2], 0, 0, 0, 0, 0)
}
/// The windows' position codes (lanes past them 0).
@inline(__always) func loadWindows(_ p: UnsafePointer<UInt8>, _ windows: Int) -> SIMD8<UInt8> {
    if windows == 4 {
        let a = loadVector(p, SIMD4<UInt8>.self)
        return SIMD8(a[0], a[1], a[2], a[3], 0, 0, 0, 0)
    }
    return SIMD8(p[0], p[1], p[2], 0, 0, 0, 0, 0)
}
@inline(__always) func storeWindowPairs(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ windows: Int) {
    if windows == 4 { storeVector(SIMD8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]), p); return }
    storeVector(SIMD4(v[0], v[1], v[2], v[3]), p)
    storeVector(SIMD2(v[4], v[5]), p + 4)
}
@inline(__always) func storeWindows(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ windows: Int) {
    if windows == 4 { storeVector(SIMD4(v[0], v[1], v[2], v[3]), p); return }
    storeVector(SIMD2(v[0], v[1]), p)
    p[2] = v[2]
}
@inline(__always) func storeWindows(_ v: SIMD8<UInt8>, _ p: UnsafeMutablePointer<UInt8>, _ windows: Int) {
    if windows == 4 { storeVector(SIMD4(v[0], v[1], v[2], v[3]), p); return }
    p[0] = v[0]; p[1] = v[1]; p[2] = v[2]
}

/// Lane by lane, the 2×2 windows (a b / c d): each maximum, max(max(a, b), max(c, d)) with
/// `Swift.max`'s rule (y >= x ? y : x, so the same value and the same bits as the scalar form), and
/// its position code: 0 if a is the maximum, else 1 + [b is not]·(1 + [c is not]). Concrete
/// SIMD8 types throughout: generic SIMD comparisons compile to a loop over the lanes.
/// Transparent, as `windowGradients`: with `@inline(__always)` both were left out of line, a call
/// per eight windows, in `maxPool2x2` and `maxPool2x2Backward`.
@_transparent
func windowMaxima(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>,
                  _ d: SIMD8<Float>) -> (maxima: SIMD8<Float>, codes: SIMD8<UInt8>) {
    @inline(__always) func larger(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        x.replacing(with: y, where: y .>= x)
    }
    let m = larger(larger(a, b), larger(c, d))
    let zero = SIMD8<Int32>(), one = SIMD8<Int32>(repeating: 1)
    let notA = zero.replacing(with: one, where: a .!= m), notB = zero.replacing(with: one, where: b .!= m)
    let notC = zero.replacing(with: one, where: c .!= m)
    return (m, narrowed(notA &* (one &+ notB &* (one &+ notC))))
}

/// The gradient rows of eight windows, g at each code's corner and 0 at the other three, each as
/// (even columns, odd columns) interleaved: (top row, bottom row).
@_transparent
func windowGradients(_ g: SIMD8<Float>, _ codes: SIMD8<UInt8>) -> (top: SIMD16<Float>, bottom: SIMD16<Float>) {
    let p = widened(codes), zero = SIMD8<Float>()
    @inline(__always) func at(_ corner: Int32) -> SIMD8<Float> {
        zero.replacing(with: g, where: p .== SIMD8(repeating: corner))  // (vector .== scalar is a lane loop)
    }
    return (interleave(at(0), at(1)), interleave(at(2), at(3)))
}

/// Windows ox..<ox + 8 of the pooled row from input rows r0 and r1: out[ox...] and code[ox...].
@inline(__always)
func maxPool2x2Eight(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ ox: Int,
                     _ out: UnsafeMutablePointer<Float>, _ code: UnsafeMutablePointer<UInt8>) {
    let top = load16(r0 + 2 * ox), bottom = load16(r1 + 2 * ox)
    let (m, p) = windowMaxima(top.evenHalf, top.oddHalf, bottom.evenHalf, bottom.oddHalf)
    UnsafeMutableRawPointer(out + ox).storeBytes(of: m, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(code + ox).storeBytes(of: p, as: SIMD8<UInt8>.self)
}

/// Windows ox..<ox + `windows` (3 or 4), as `maxPool2x2Eight` (the upper lanes unused).
@inline(__always)
func maxPool2x2Four(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ ox: Int, _ windows: Int,
                    _ out: UnsafeMutablePointer<Float>, _ code: UnsafeMutablePointer<UInt8>) {
    let top = loadWindowPairs(r0 + 2 * ox, windows), bottom = loadWindowPairs(r1 + 2 * ox, windows)
    let (m, p) = windowMaxima(evenLanes(top), oddLanes(top), evenLanes(bottom), oddLanes(bottom))
    storeWindows(m, out + ox, windows)
    storeWindows(p, code + ox, windows)
}

/// The gradient of windows ox..<ox + 8 into rows r0 and r1 of dx.
@inline(__always)
func maxPool2x2BackwardEight(_ grad: UnsafePointer<Float>, _ code: UnsafePointer<UInt8>, _ ox: Int,
                             _ r0: UnsafeMutablePointer<Float>, _ r1: UnsafeMutablePointer<Float>) {
    let (top, bottom) = windowGradients(UnsafeRawPointer(grad + ox).loadUnaligned(as: SIMD8<Float>.self),
                                        UnsafeRawPointer(code + ox).loadUnaligned(as: SIMD8<UInt8>.self))
    store16(top, r0 + 2 * ox)
    store16(bottom, r1 + 2 * ox)
}

/// Windows ox..<ox + 4, as `maxPool2x2BackwardEight` (the upper lanes unused).
@inline(__always)
func maxPool2x2BackwardFour(_ grad: UnsafePointer<Float>, _ code: UnsafePointer<UInt8>, _ ox: Int,
                            _ r0: UnsafeMutablePointer<Float>, _ r1: UnsafeMutablePointer<Float>) {
    let (top, bottom) = windowGradients(loadWindows(grad + ox, 4), loadWindows(code + ox, 4))
    storeWindowPairs(top, r0 + 2 * ox, 4)
    storeWindowPairs(bottom, r1 + 2 * ox, 4)
}

// Lane-by-lane conversions between the position codes and 32-bit lanes. The standard library's
// generic SIMD conversions are not always inlined, and their shared specialization is one symbol
// for every kernel variant: the linker keeps one variant's instructions for all of them.
@inline(__always) func widened(_ c: SIMD8<UInt8>) -> SIMD8<Int32> {
    SIMD8(Int32(c[0]), Int32(c[1]), Int32(c[2]), Int32(c[3]), Int32(c[4]), Int32(c[5]), Int32(c[6]), Int32(c[7]))
}
@inline(__always) func narrowed(_ v: SIMD8<Int32>) -> SIMD8<UInt8> {
    SIMD8(UInt8(truncatingIfNeeded: v[0]), UInt8(truncatingIfNeeded: v[1]), UInt8(truncatingIfNeeded: v[2]),
          UInt8(truncatingIfNeeded: v[3]), UInt8(truncatingIfNeeded: v[4]), UInt8(truncatingIfNeeded: v[5]),
          UInt8(truncatingIfNeeded: v[6]), UInt8(truncatingIfNeeded: v[7]))
}
@inline(__always) func widened(_ c: SIMD16<UInt8>) -> SIMD16<Int32> {
    var v = SIMD16<Int32>()
    for i in 0..<16 { v[i] = Int32(c[i]) }
    return v
}
@inline(__always) func narrowed(_ v: SIMD16<Int32>) -> SIMD16<UInt8> {
    var c = SIMD16<UInt8>()
    for i in 0..<16 { c[i] = UInt8(truncatingIfNeeded: v[i]) }
    return c
}

/// Lanes 0, 2, …, 14 and 1, 3, …, 15 of v (the even and odd columns of 16 values), built lane by
/// lane for the same reason.
@inline(__always) func evenLanes(_ v: SIMD16<Float>) -> SIMD8<Float> {
    SIMD8(v[0], v[2], v[4], v[6], v[8], v[10], v[12], v[14])
}
/// The even lanes of a then b: (a0, a2, …, a14, b0, b2, …, b14).
@inline(__always) func evenLanes(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    SIMD16(a[0], a[2], a[4], a[6], a[8], a[10], a[12], a[14], b[0], b[2], b[4], b[6], b[8], b[10], b[12], b[14])
}
@inline(__always) func oddLanes(_ v: SIMD16<Float>) -> SIMD8<Float> {
    SIMD8(v[1], v[3], v[5], v[7], v[9], v[11], v[13], v[15])
}

/// (e0, o0, e1, o1, …): the lanes of `even` and `odd` alternately.
@inline(__always)
func interleave(_ even: SIMD8<Float>, _ odd: SIMD8<Float>) -> SIMD16<Float> {
    SIMD16(even[0], odd[0], even[1], odd[1], even[2], odd[2], even[3], odd[3],
           even[4], odd[4], even[5], odd[5], even[6], odd[6], even[7], odd[7])
}
