// Tensor: contiguous float32 storage with a shape (row-major; NCHW for images).

/// A dense float32 tensor in row-major order.
///
/// A `Tensor` is a reference type: layers keep their output buffers and reuse them from batch
/// to batch, so a tensor returned by `forward` stays valid only until the next `forward`.
/// Storage is 64-byte aligned and padded with zeros to a multiple of 16 floats, so element-wise
/// kernels may run whole 16-lane vectors over `paddedCount` elements.
public final class Tensor {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// Number of elements (product of `shape`).
    public private(set) var count: Int
    /// Capacity of the allocation, in elements (≥ `count`).
    private var capacity: Int
    /// The elements; valid for `count` floats.
    public private(set) var data: UnsafeMutablePointer<Float>
    /// The tensor whose storage `data` points into when this one is a reshaped view of it (see
    /// `view(of:shape:)`); nil when this tensor owns its storage.
    private var viewed: Tensor?

    /// A zero-filled tensor of the given shape.
    /// - Throws: `invalidArgument` if a dimension is negative or the size overflows.
    public convenience init(shape: [Int]) throws {
        self.init(uncheckedShape: shape, count: try Tensor.elementCount(shape))
    }

    /// A tensor holding a copy of `values`, with the given shape.
    /// - Throws: `shapeMismatch` if `values.count` is not the product of `shape`.
    public convenience init(shape: [Int], values: [Float]) throws {
        let n = try Tensor.elementCount(shape)
        guard n == values.count else {
            throw SmallNetError.shapeMismatch("shape \(shape) holds \(n) values, got \(values.count)")
        }
        self.init(uncheckedShape: shape, count: n)
        for i in 0..<n { data[i] = values[i] }
    }

    init(uncheckedShape shape: [Int], count: Int) {
        self.shape = shape
        self.count = count
        self.capacity = Tensor.padded(count)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64)
        self.data = raw.initializeMemory(as: Float.self, repeating: 0, count: capacity)
    }

    deinit { if viewed == nil { UnsafeMutableRawPointer(data).deallocate() } }

    /// The most elements one tensor may hold (4 GiB of floats).
    public static let maxElements = 1 << 30

    /// Number of elements of `shape`, checking for negative dimensions and overflow.
    /// - Throws: `invalidArgument` for a negative dimension, `outOfMemory` above `maxElements`.
    static func elementCount(_ shape: [Int]) throws -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw SmallNetError.invalidArgument("negative dimension in shape \(shape)") }
            let (r, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, r <= maxElements else {
                throw SmallNetError.outOfMemory("shape \(shape) exceeds \(maxElements) elements")
            }
            n = r
        }
        return n
    }

    /// Changes the shape, growing the allocation only when needed. Contents become unspecified
    /// (zero when the storage grew). Used for per-batch buffers.
    func resize(_ newShape: [Int]) {
        var n = 1
        for d in newShape { n *= d }
        if n > capacity || viewed != nil {
            if viewed == nil { UnsafeMutableRawPointer(data).deallocate() }
            viewed = nil
            capacity = Tensor.padded(n)
            let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64)
            data = raw.initializeMemory(as: Float.self, repeating: 0, count: capacity)
        }
        shape = newShape
        count = n
    }

    /// Makes this tensor `other`'s elements under `newShape` (the same count), without a copy: a
    /// reshape for layers that only relabel dimensions. The view reads and writes `other`'s
    /// storage until this tensor's next `resize` (which gives it storage of its own again) and is
    /// valid while `other` keeps that storage, that is until `other`'s next `resize`.
    func view(of other: Tensor, shape newShape: [Int]) {
        precondition(newShape.reduce(1, *) == other.count, "a view keeps the element count")
        view(of: other, offset: 0, shape: newShape)
    }

    /// Makes this tensor the elements offset..<offset + count of `other` under `newShape`, without
    /// a copy (a batch of consecutive samples of a larger tensor); valid as `view(of:shape:)`.
    func view(of other: Tensor, offset: Int, shape newShape: [Int]) {
        let n = newShape.reduce(1, *)
        precondition(offset >= 0 && n <= other.count - offset, "a view lies inside its source")
        if viewed == nil { UnsafeMutableRawPointer(data).deallocate() }
        viewed = other
        data = other.data + offset
        capacity = other.capacity - offset
        shape = newShape
        count = n
    }

    /// `count` rounded up to whole 16-float vectors (at least one).
    var paddedCount: Int { Tensor.padded(count) }

    static func padded(_ n: Int) -> Int { Swift.max(16, (n + 15) & ~15) }

    /// Sets every element to `value`.
    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// The elements as an array (a copy).
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// Copies `count` elements from `other`, which must have the same number of elements.
    func copy(from other: Tensor) {
        data.update(from: other.data, count: count)
    }

    /// Element access by flat index (bounds-checked; for tests, not kernels).
    subscript(i: Int) -> Float {
        get { precondition(i >= 0 && i < count, "index out of range"); return data[i] }
        set { precondition(i >= 0 && i < count, "index out of range"); data[i] = newValue }
    }
}
