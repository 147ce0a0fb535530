// Training-time data augmentation: random shifts (crop with padding) and horizontal flips.

/// Random crop with zero padding and random horizontal flip, applied per image, seeded.
///
/// A crop with padding p equals shifting the image by (dy, dx) ∈ [−p, p]², uniformly, and
/// filling the uncovered border with the background value (a raw pixel of 0).
public struct Augmentation: Equatable, Sendable {
    /// Maximum shift in pixels (the padding of the random crop); 0 disables it.
    public var cropPadding: Int
    /// Whether to flip left–right with probability 1/2.
    public var horizontalFlip: Bool

    /// - Throws: `invalidArgument` for a negative or excessive padding.
    public init(cropPadding: Int = 0, horizontalFlip: Bool = false) throws {
        try require(cropPadding >= 0 && cropPadding <= 16, "crop padding must be in 0...16, got \(cropPadding)")
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
    }

    /// True when the augmentation changes nothing.
    public var isIdentity: Bool { cropPadding == 0 && !horizontalFlip }

    /// Augments one (C, H, W) image in place; `background(c)` fills the uncovered border of channel c.
    func apply(_ image: UnsafeMutablePointer<Float>, shape: [Int], background: (Int) -> Float,
               generator: inout RandomGenerator) {
        let c = shape[0], h = shape[1], w = shape[2]
        let flip = horizontalFlip && generator.next() & 1 == 1
        var dy = 0, dx = 0
        if cropPadding > 0 {
            dy = generator.nextInt(below: 2 * cropPadding + 1) - cropPadding
            dx = generator.nextInt(below: 2 * cropPadding + 1) - cropPadding
        }
        if !flip && dy == 0 && dx == 0 { return }
        let plane = UnsafeMutablePointer<Float>.allocate(capacity: h * w)
        defer { plane.deallocate() }
        for ch in 0..<c {
            let p = image + ch * h * w, fill = background(ch)
            plane.update(from: p, count: h * w)
            for y in 0..<h {
                let sy = y + dy
                for x in 0..<w {
                    let tx = flip ? w - 1 - x : x
                    let sx = tx + dx
                    p[y * w + x] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? plane[sy * w + sx] : fill
                }
            }
        }
    }
}
