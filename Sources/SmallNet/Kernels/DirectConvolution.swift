// Direct "same" convolution of single-channel images: the first layer of a CNN, where im2col
// and a GEMM with K = k·k would spend more time moving data than multiplying.

/// The k column-shifted copies of one (H, W) image that the taps of a k×k, stride-1,
/// "same"-padded (p = k / 2) convolution read.
///
/// Plane j (dx = j − p) holds x[y][x + dx], 0 where x + dx falls outside the image, with p rows
/// of zeros above and below. Tap (i, j) at output pixel q = y·W + x then reads
/// `tap(i, j)[q]`, so every tap is one contiguous, unmasked row of H·W floats.
struct ShiftedPlanes {
    let height, width, kernel: Int
    var padding: Int { kernel / 2 }
    var pixels: Int { height * width }
    /// Floats per plane: the padded rows, plus one vector of slack so full-vector loads at
    /// the last pixels stay inside the buffer.
    var planeStride: Int { (height + 2 * padding) * width + 16 }
    /// Floats of scratch for all k planes.
    var scratchCount: Int { kernel * planeStride }

    /// Writes the k planes of `image` (H, W) into `planes` (`scratchCount` floats).
    func fill(_ image: UnsafePointer<Float>, into planes: UnsafeMutablePointer<Float>) {
        let p = padding, w = width
        for j in 0..<kernel {
            let plane = planes + j * planeStride, dx = j - p
            plane.update(repeating: 0, count: planeStride)
            let valid = Swift.max(0, -dx)..<Swift.min(w, w - dx)
            for y in 0..<height {
                let dst = plane + (y + p) * w, src = image + y * w + dx
                for x in valid { dst[x] = src[x] }
            }
        }
    }

    /// Tap (i, j): element q is the input under kernel position (i, j) for output pixel q.
    @inline(__always) func tap(_ i: Int, _ j: Int, of planes: UnsafePointer<Float>) -> UnsafePointer<Float> {
        planes + j * planeStride + i * width
    }
}

/// y (Cout, H·W) = b + Σ_t w[·, t] · tap_t, for the T = k·k taps of `planes`.
///
/// Shapes: weight (Cout, T) row-major (PyTorch's (Cout, 1, k, k)); bias (Cout) or nil.
/// Four output channels share each tap load.
func directConvolutionForward(_ s: ShiftedPlanes, planes: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, outChannels: Int, output: UnsafeMutablePointer<Float>) {
    let taps = s.kernel * s.kernel, pixels = s.pixels
    withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: taps) { tapPointers in
        for t in 0..<taps { tapPointers[t] = s.tap(t / s.kernel, t % s.kernel, of: planes) }
        var q = 0
        while q < pixels {
            let lanes = Swift.min(16, pixels - q)
            @inline(__always) func write(_ v: Vec16, _ o: Int) {
                let dst = output + o * pixels + q
                if lanes == 16 { store16(v, dst) } else { for l in 0..<lanes { dst[l] = v[l] } }
            }
            var o = 0
            while o < outChannels {
                let block = Swift.min(4, outChannels - o)
                let w0 = weight + o * taps
                let w1 = weight + (o + Swift.min(1, block - 1)) * taps
                let w2 = weight + (o + Swift.min(2, block - 1)) * taps
                let w3 = weight + (o + Swift.min(3, block - 1)) * taps
                var a0 = Vec16(repeating: bias?[o] ?? 0)
                var a1 = Vec16(repeating: bias?[o + Swift.min(1, block - 1)] ?? 0)
                var a2 = Vec16(repeating: bias?[o + Swift.min(2, block - 1)] ?? 0)
                var a3 = Vec16(repeating: bias?[o + Swift.min(3, block - 1)] ?? 0)
                for t in 0..<taps {
                    let x = load16(tapPointers[t] + q)
                    a0 = a0.addingProduct(Vec16(repeating: w0[t]), x)
                    a1 = a1.addingProduct(Vec16(repeating: w1[t]), x)
                    a2 = a2.addingProduct(Vec16(repeating: w2[t]), x)
                    a3 = a3.addingProduct(Vec16(repeating: w3[t]), x)
                }
                write(a0, o)
                if block > 1 { write(a1, o + 1) }
                if block > 2 { write(a2, o + 2) }
                if block > 3 { write(a3, o + 3) }
                o += block
            }
            q += 16
        }
    }
}

/// dW (Cout, T) += Σ_q dy[·, q] · tap_t[q]: the weight gradient of `directConvolutionForward`
/// for one image; db (Cout) += Σ_q dy[·, q] when `dBias` is given.
///
/// Each (o, t) sum runs over 16 lanes and then across them, a fixed order.
func directConvolutionWeightGradient(_ s: ShiftedPlanes, planes: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                     outChannels: Int, dWeight: UnsafeMutablePointer<Float>,
                                     dBias: UnsafeMutablePointer<Float>?) {
    let taps = s.kernel * s.kernel, pixels = s.pixels, full = pixels & ~15
    for t in 0..<taps {
        let x = s.tap(t / s.kernel, t % s.kernel, of: planes)
        var o = 0
        while o < outChannels {
            let block = Swift.min(4, outChannels - o)
            let d0 = dOut + o * pixels
            let d1 = dOut + (o + Swift.min(1, block - 1)) * pixels
            let d2 = dOut + (o + Swift.min(2, block - 1)) * pixels
            let d3 = dOut + (o + Swift.min(3, block - 1)) * pixels
            var a0 = Vec16(), a1 = Vec16(), a2 = Vec16(), a3 = Vec16()
            var q = 0
            while q < full {
                let v = load16(x + q)
                a0 = a0.addingProduct(load16(d0 + q), v)
                a1 = a1.addingProduct(load16(d1 + q), v)
                a2 = a2.addingProduct(load16(d2 + q), v)
                a3 = a3.addingProduct(load16(d3 + q), v)
                q += 16
            }
            @inline(__always) func add(_ b: Int, _ acc: Vec16) {
                var total = acc.sum()
                let d = dOut + (o + b) * pixels
                for r in full..<pixels { total += d[r] * x[r] }
                dWeight[(o + b) * taps + t] += total
            }
            add(0, a0)
            if block > 1 { add(1, a1) }
            if block > 2 { add(2, a2) }
            if block > 3 { add(3, a3) }
            o += block
        }
    }
    if let dBias {
        for o in 0..<outChannels { dBias[o] += sum(dOut + o * pixels, count: pixels) }
    }
}
