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
            let lo = Swift.max(0, -dx)  // an image narrower than the padding has no columns for some taps
            let valid = lo..<Swift.max(lo, Swift.min(w, w - dx))
            for y in 0..<height {
                let dst = plane + (y + p) * w, src = image + y * w + dx
                copy(dst + valid.lowerBound, src + valid.lowerBound, count: valid.count)
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

/// dWᵀ (T, Cout) += Σ_q tap_t[q] · dyᵀ[q, ·]: the weight gradient of `directConvolutionForward`
/// for one image, with dyᵀ (H·W, Cout) the output gradient transposed; db (Cout) += Σ_q dy[·, q]
/// when `dBias` is given.
///
/// Each sum runs over q in order, in blocks of `gemmKC` pixels added to dWᵀ one after another,
/// as `gemm` sums them: the result is the same, bit for bit, as `gemm` over the im2col matrix.
/// `dOutT` needs 32 floats of slack after its last row.
func directConvolutionWeightGradient(_ s: ShiftedPlanes, planes: UnsafePointer<Float>, dOutT: UnsafePointer<Float>,
                                     outChannels: Int, dWeightT: UnsafeMutablePointer<Float>) {
    let taps = s.kernel * s.kernel, pixels = s.pixels
    withUnsafeTemporaryAllocation(of: Vec16.self, capacity: taps * 2) { buffer in
        let partial = buffer.baseAddress!
        var o = 0
        while o < outChannels {
            // Two 16-lane vectors of output channels at a time; lanes past Cout are dropped.
            let lanes = Swift.min(32, outChannels - o)
            var q0 = 0
            while q0 < pixels {
                let q1 = Swift.min(q0 + gemmKC, pixels)
                // Three taps at a time: six independent accumulator chains.
                var t = 0
                while t < taps {
                    let count = Swift.min(3, taps - t)
                    let x0 = s.tap(t / s.kernel, t % s.kernel, of: planes)
                    let t1 = t + Swift.min(1, count - 1), t2 = t + Swift.min(2, count - 1)
                    let x1 = s.tap(t1 / s.kernel, t1 % s.kernel, of: planes)
                    let x2 = s.tap(t2 / s.kernel, t2 % s.kernel, of: planes)
                    var a0 = Vec16(), a1 = Vec16(), b0 = Vec16(), b1 = Vec16(), c0 = Vec16(), c1 = Vec16()
                    for q in q0..<q1 {
                        let row = dOutT + q * outChannels + o
                        let low = load16(row), high = load16(row + 16)
                        let u = Vec16(repeating: x0[q]), v = Vec16(repeating: x1[q]), w = Vec16(repeating: x2[q])
                        a0 = a0.addingProduct(u, low); a1 = a1.addingProduct(u, high)
                        b0 = b0.addingProduct(v, low); b1 = b1.addingProduct(v, high)
                        c0 = c0.addingProduct(w, low); c1 = c1.addingProduct(w, high)
                    }
                    partial[2 * t] = a0; partial[2 * t + 1] = a1
                    if count > 1 { partial[2 * t + 2] = b0; partial[2 * t + 3] = b1 }
                    if count > 2 { partial[2 * t + 4] = c0; partial[2 * t + 5] = c1 }
                    t += count
                }
                for t in 0..<taps {
                    let dst = dWeightT + t * outChannels + o
                    for l in 0..<lanes { dst[l] += l < 16 ? partial[2 * t][l] : partial[2 * t + 1][l - 16] }
                }
                q0 = q1
            }
            o += lanes
        }
    }
}
