// A CNN block's BatchNorm → ReLU → 2×2 max-pool on one (H, W) plane, in one pass each way.
//
// Each kernel gives, bit for bit, the numbers of the separate kernels it replaces run one after
// the other (the same products, sums and comparisons on each value), without writing the
// intermediate planes.

extension Variant {
    /// `maxPool2x2` of z = max(0, x·scale + shift), z computed from x as it is read (one pass
    /// over x, z never stored): the numbers of `planeScaleShift`, `reluForward` and `maxPool2x2`
    /// one after the other, bit for bit (each value of z is the same product then sum, and the
    /// same comparison with 0).
    public static func scaleShiftReLUMaxPool2x2(_ x: UnsafePointer<Float>, width w: Int, outHeight ho: Int,
                                                outWidth wo: Int, scale: Float, shift: Float,
                                                output y: UnsafeMutablePointer<Float>,
                                                position: UnsafeMutablePointer<UInt8>) {
        let scale8 = SIMD8<Float>(repeating: scale), shift8 = SIMD8<Float>(repeating: shift)
        @inline(__always) func z(_ v: SIMD8<Float>) -> SIMD8<Float> {
            let t = v * scale8 + shift8
            return t.replacing(with: 0, where: t .<= SIMD8<Float>())
        }
        @inline(__always) func z(_ v: Float) -> Float { let t = v * scale + shift; return t <= 0 ? 0 : t }
        for oy in 0..<ho {
            let r0 = x + 2 * oy * w, r1 = r0 + w
            let out = y + oy * wo, code = position + oy * wo
            let spills = windowVectorSpills(row: oy, outHeight: ho, outWidth: wo, height: 2 * ho, width: w)
            forEachWindowVector(wo, spills: spills, eight: { ox in
                // Split into even and odd columns first, then z on each (8 lanes a vector).
                let top = load16(r0 + 2 * ox), bottom = load16(r1 + 2 * ox)
                let (m, p) = windowMaxima(z(evenLanes(top)), z(oddLanes(top)), z(evenLanes(bottom)), z(oddLanes(bottom)))
                UnsafeMutableRawPointer(out + ox).storeBytes(of: m, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(code + ox).storeBytes(of: p, as: SIMD8<UInt8>.self)
            }, four: { ox, windows in
                let top = loadWindowPairs(r0 + 2 * ox, windows), bottom = loadWindowPairs(r1 + 2 * ox, windows)
                let (m, p) = windowMaxima(z(evenLanes(top)), z(oddLanes(top)), z(evenLanes(bottom)), z(oddLanes(bottom)))
                storeWindows(m, out + ox, windows)
                storeWindows(p, code + ox, windows)
            }) { ox in
                let a = z(r0[2 * ox]), b = z(r0[2 * ox + 1]), c = z(r1[2 * ox]), d = z(r1[2 * ox + 1])
                let m = Swift.max(Swift.max(a, b), Swift.max(c, d))
                out[ox] = m
                let notA = unsafeBitCast(a != m, to: UInt8.self), notB = unsafeBitCast(b != m, to: UInt8.self)
                let notC = unsafeBitCast(c != m, to: UInt8.self)
                code[ox] = notA &* (1 &+ notB &* (1 &+ notC))
            }
        }
    }

    /// dx = k·dz + (x·c1 + c0) over one plane x (H, W), where dz is the pooled gradient g
    /// passed by ReLU (g where the pooled output y > 0, else 0) and spread by the 2×2 pool to
    /// each window's maximum (0 at the window's other three values and at a last row or column no
    /// window covers): `reluBackward`, `maxPool2x2Backward` and `planeInputGradient` one after the
    /// other, bit for bit, dz never stored.
    public static func pooledReLUInputGradient(_ g: UnsafePointer<Float>, pooled y: UnsafePointer<Float>,
                                               position: UnsafePointer<UInt8>, outHeight ho: Int, outWidth wo: Int,
                                               height h: Int, width w: Int, input x: UnsafePointer<Float>,
                                               dInput dx: UnsafeMutablePointer<Float>, k: Float, c1: Float, c0: Float) {
        let k16 = Vec16(repeating: k), c1x16 = Vec16(repeating: c1), c0x16 = Vec16(repeating: c0)
        @inline(__always) func passed(_ g: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
            g.replacing(with: 0, where: y .<= SIMD8<Float>())
        }
        @inline(__always) func gradient(_ dz: Vec16, _ x: Vec16) -> Vec16 { k16 * dz + x * c1x16 + c0x16 }
        @inline(__always) func gradient(_ dz: Float, _ x: Float) -> Float { k * dz + x * c1 + c0 }
        for oy in 0..<ho {
            let x0 = x + 2 * oy * w, x1 = x0 + w, dx0 = dx + 2 * oy * w, dx1 = dx0 + w
            let grad = g + oy * wo, pooled = y + oy * wo, code = position + oy * wo
            let spills = windowVectorSpills(row: oy, outHeight: ho, outWidth: wo, height: h, width: w)
            forEachWindowVector(wo, spills: spills, eight: { ox in
                let p = passed(UnsafeRawPointer(grad + ox).loadUnaligned(as: SIMD8<Float>.self),
                               UnsafeRawPointer(pooled + ox).loadUnaligned(as: SIMD8<Float>.self))
                let (top, bottom) = windowGradients(p, UnsafeRawPointer(code + ox).loadUnaligned(as: SIMD8<UInt8>.self))
                store16(gradient(top, load16(x0 + 2 * ox)), dx0 + 2 * ox)
                store16(gradient(bottom, load16(x1 + 2 * ox)), dx1 + 2 * ox)
            }, four: { ox, windows in
                let p = passed(loadWindows(grad + ox, windows), loadWindows(pooled + ox, windows))
                let (top, bottom) = windowGradients(p, loadWindows(code + ox, windows))
                storeWindowPairs(gradient(top, loadWindowPairs(x0 + 2 * ox, windows)), dx0 + 2 * ox, windows)
                storeWindowPairs(gradient(bottom, loadWindowPairs(x1 + 2 * ox, windows)), dx1 + 2 * ox, windows)
            }) { ox in
                let p = pooled[ox] <= 0 ? 0 : grad[ox], at = code[ox]
                dx0[2 * ox] = gradient(at == 0 ? p : 0, x0[2 * ox])
                dx0[2 * ox + 1] = gradient(at == 1 ? p : 0, x0[2 * ox + 1])
                dx1[2 * ox] = gradient(at == 2 ? p : 0, x1[2 * ox])
                dx1[2 * ox + 1] = gradient(at == 3 ? p : 0, x1[2 * ox + 1])
            }
            if 2 * wo < w { dx0[w - 1] = gradient(0, x0[w - 1]); dx1[w - 1] = gradient(0, x1[w - 1]) }
        }
        if 2 * ho < h {
            let last = (h - 1) * w
            for i in last..<(last + w) { dx[i] = gradient(0, x[i]) }
        }
    }
}
