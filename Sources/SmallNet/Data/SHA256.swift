// SHA-256 (FIPS 180-4), used to verify downloaded data sets; the compression runs as a kernel.
import SmallNetKernels

/// The SHA-256 digest of `bytes`, as 64 lowercase hex digits.
public func sha256Hex(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    let n = bytes.count
    let fullBlocks = n / 64
    if let base = bytes.baseAddress {
        kernels.sha256Blocks(&h, base, count: fullBlocks)
    }
    // Padding: 0x80, zeros, then the bit length as a big-endian UInt64.
    var tail = [UInt8](bytes[(fullBlocks * 64)...])
    tail.append(0x80)
    while tail.count % 64 != 56 { tail.append(0) }
    let bitLength = UInt64(n) &* 8
    for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
    tail.withUnsafeBufferPointer { t in kernels.sha256Blocks(&h, t.baseAddress!, count: t.count / 64) }
    let digits = Array("0123456789abcdef")
    var out = ""
    for word in h {
        for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((word >> UInt32(shift)) & 0xf)]) }
    }
    return out
}
