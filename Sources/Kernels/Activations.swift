// Element-wise activations and their gradients, over `count` contiguous floats.

extension Variant {
    /// y = max(0, x); NaN propagates (y = NaN), −0 gives 0.
    public static func reluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let zero = Vec16()
        while i + 16 <= count {
            let v = load16(x + i)
            store16(v.replacing(with: 0, where: v .<= zero), y + i)
            i += 16
        }
        while i < count { y[i] = x[i] <= 0 ? 0 : x[i]; i += 1 }
    }

    /// dx = dy · [y > 0], from ReLU's output y.
    public static func reluBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                    _ dx: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let zero = Vec16()
        while i + 16 <= count {
            store16(load16(dy + i).replacing(with: 0, where: load16(y + i) .<= zero), dx + i)
            i += 16
        }
        while i < count { dx[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
    }

    /// y = x for x > 0, s·x otherwise.
    public static func leakyReLUForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                                        slope s: Float) {
        var i = 0
        let zero = Vec16()
        while i + 16 <= count {
            let v = load16(x + i)
            store16(v.replacing(with: v * s, where: .!(v .> zero)), y + i)
            i += 16
        }
        while i < count { y[i] = x[i] > 0 ? x[i] : x[i] * s; i += 1 }
    }

    /// dx = dy for x > 0, s·dy otherwise, from LeakyReLU's input x.
    public static func leakyReLUBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                         _ dx: UnsafeMutablePointer<Float>, count: Int, slope s: Float) {
        var i = 0
        let zero = Vec16()
        while i + 16 <= count {
            let d = load16(dy + i)
            store16(d.replacing(with: d * s, where: .!(load16(x + i) .> zero)), dx + i)
            i += 16
        }
        while i < count { dx[i] = x[i] > 0 ? dy[i] : dy[i] * s; i += 1 }
    }

    /// dx = dy·(1 − y²), from tanh's output y.
    public static func tanhBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                    _ dx: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let one = Vec16(repeating: 1)
        while i + 16 <= count {
            let v = load16(y + i)
            store16(load16(dy + i) * (one - v * v), dx + i)
            i += 16
        }
        while i < count { dx[i] = dy[i] * (1 - y[i] * y[i]); i += 1 }
    }

    /// dx = dy·y·(1 − y), from the sigmoid's output y.
    public static func sigmoidBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                       _ dx: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let one = Vec16(repeating: 1)
        while i + 16 <= count {
            let v = load16(y + i)
            store16(load16(dy + i) * v * (one - v), dx + i)
            i += 16
        }
        while i < count { dx[i] = dy[i] * y[i] * (1 - y[i]); i += 1 }
    }
}
