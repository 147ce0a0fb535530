// The kernels compiled for x86-64-v2 (SSE4.2). The sources are Sources/Kernels, linked here.
import SmallNetKernels

/// The kernels for any x86-64-v2 CPU (SSE4.2, POPCNT; Intel Nehalem, AMD Bulldozer and
/// later): 128-bit vectors, a 6×8 GEMM micro-kernel, and no FMA, so its products are rounded
/// before they are summed: the numbers differ from the other variants' in the last bits.
public enum Variant: Kernels {
    public static let isa = ISA.baseline
}
