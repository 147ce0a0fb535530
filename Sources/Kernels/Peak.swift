// The vector units' limit: independent multiply-adds from registers only.

extension Variant {
    /// `iterations` rounds of 12 independent `acc = c + acc · m` on vectors of the GEMM's width
    /// (`vectorBits`), fused where the variant has FMA; returns a sum so that the work cannot
    /// be dropped. m < 1 keeps every value bounded. 2 · 12 · vectorBits/32 FLOPs per round.
    @inline(never)
    public static func fmaChains(iterations: Int, seed: Float) -> Float {
        typealias V = GemmVector
        let m = V(repeating: 0.999_999), c = V(repeating: 1e-6 * seed)
        var a0 = V(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5
        var a6 = a0 + 6, a7 = a0 + 7, a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11
        for _ in 0..<iterations {
            a0 = multiplyAdd(c, a0, m); a1 = multiplyAdd(c, a1, m); a2 = multiplyAdd(c, a2, m)
            a3 = multiplyAdd(c, a3, m); a4 = multiplyAdd(c, a4, m); a5 = multiplyAdd(c, a5, m)
            a6 = multiplyAdd(c, a6, m); a7 = multiplyAdd(c, a7, m); a8 = multiplyAdd(c, a8, m)
            a9 = multiplyAdd(c, a9, m); a10 = multiplyAdd(c, a10, m); a11 = multiplyAdd(c, a11, m)
        }
        let total = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
        return total.sum()
    }
}
