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
    /// (0 1 / 2 3, the first one in row-major order on ties), branch-free: random data makes every
    /// comparison a coin toss for a branch predictor.
    public static func maxPool2x2(_ x: UnsafePointer<Float>, width w: Int, outHeight ho: Int, outWidth wo: Int,
                                  output y: UnsafeMutablePointer<Float>, position: UnsafeMutablePointer<UInt8>) {
        for oy in 0..<ho {
            let r0 = x + 2 * oy * w, r1 = r0 + w
            let out = y + oy * wo, code = position + oy * wo
            for ox in 0..<wo {
                let a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1]
                let m = Swift.max(Swift.max(a, b), Swift.max(c, d))
                out[ox] = m
                // 0 if a is the max, else 1 + [b is not]·(1 + [c is not]).
                let notA = unsafeBitCast(a != m, to: UInt8.self), notB = unsafeBitCast(b != m, to: UInt8.self)
                let notC = unsafeBitCast(c != m, to: UInt8.self)
                code[ox] = notA &* (1 &+ notB &* (1 &+ notC))
            }
        }
    }

    /// The adjoint of `maxPool2x2` for one plane: each dy goes to its window's max position; the
    /// other positions, and a last row or column no window covers (odd sizes), get 0.
    public static func maxPool2x2Backward(_ dy: UnsafePointer<Float>, position: UnsafePointer<UInt8>, outHeight ho: Int,
                                          outWidth wo: Int, height h: Int, width w: Int,
                                          dInput dx: UnsafeMutablePointer<Float>) {
        for oy in 0..<ho {
            let r0 = dx + 2 * oy * w, r1 = r0 + w
            let grad = dy + oy * wo, code = position + oy * wo
            for ox in 0..<wo {
                let g = grad[ox], p = code[ox]
                r0[2 * ox] = p == 0 ? g : 0
                r0[2 * ox + 1] = p == 1 ? g : 0
                r1[2 * ox] = p == 2 ? g : 0
                r1[2 * ox + 1] = p == 3 ? g : 0
            }
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
