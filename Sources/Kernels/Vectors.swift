// Vector helpers and the element-wise sums and copies shared by layers and optimizers.

typealias Vec16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> Vec16 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec16.self)
}

@inline(__always) func store16(_ v: Vec16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec16.self)
}

typealias Vec8 = SIMD8<Float>

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> Vec8 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec8.self)
}

@inline(__always) func store8(_ v: Vec8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec8.self)
}

/// The sum of v's lanes in lane order from −0: the standard library's `sum()`, the same numbers,
/// written out so that it is compiled into each kernel variant (a generic `sum()` the optimizer
/// leaves out of line is one symbol shared by every variant).
@inline(__always) func laneSum(_ v: Vec16) -> Float {
    var s: Float = -0.0
    for i in 0..<16 { s += v[i] }
    return s
}

/// c + a·b: fused (one rounding) where the variant has FMA, else a product then a sum (the
/// baseline: a fused multiply-add without FMA instructions is a slow library call).
@inline(__always) func multiplyAdd<V: SIMD>(_ c: V, _ a: V, _ b: V) -> V where V.Scalar: FloatingPoint {
    #if SMALLNET_FMA
    return c.addingProduct(a, b)
    #else
    return c + a * b
    #endif
}

extension Variant {
    /// dst[i] = src[i] for i in 0..<count (the two apart), in 16-lane vectors, the last one
    /// overlapping the one before when 16 does not divide count (cheaper than memmove for the
    /// short rows of small feature maps).
    @inline(__always)
    public static func copy(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count { store16(load16(src + i), dst + i); i += 16 }
        if i < count && count >= 16 {
            store16(load16(src + count - 16), dst + count - 16)
        } else {
            while i < count { dst[i] = src[i]; i += 1 }
        }
    }

    /// y[i] += x[i] for i in 0..<count.
    @inline(__always)
    public static func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count { store16(load16(y + i) + load16(x + i), y + i); i += 16 }
        while i < count { y[i] += x[i]; i += 1 }
    }

    /// Σ x[i] for i in 0..<count, summed in 16 lanes then across them (a fixed order).
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = Vec16()
        var i = 0
        while i + 16 <= count { acc += load16(x + i); i += 16 }
        var s = laneSum(acc)
        while i < count { s += x[i]; i += 1 }
        return s
    }

    /// (Σ x[i], Σ x[i]·y[i]) for i in 0..<count in one pass; each in 16 lanes, then across them.
    public static func sumAndDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> (Float, Float) {
        var acc = Vec16(), accDot = Vec16()
        var i = 0
        while i + 16 <= count { let v = load16(x + i); acc += v; accDot += v * load16(y + i); i += 16 }
        var s = laneSum(acc), d = laneSum(accDot)
        while i < count { s += x[i]; d += x[i] * y[i]; i += 1 }
        return (s, d)
    }

    /// (Σ x[i], Σ x[i]²) for i in 0..<count, in 16 lanes then across them.
    public static func sumAndSquares(_ x: UnsafePointer<Float>, count: Int) -> (Float, Float) {
        var acc = Vec16(), acc2 = Vec16()
        var i = 0
        while i + 16 <= count { let v = load16(x + i); acc += v; acc2 += v * v; i += 16 }
        var s = laneSum(acc), s2 = laneSum(acc2)
        while i < count { s += x[i]; s2 += x[i] * x[i]; i += 1 }
        return (s, s2)
    }
}
