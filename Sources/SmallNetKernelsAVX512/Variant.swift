// The kernels compiled for x86-64-v4 (AVX-512). The sources are Sources/Kernels, linked here.
import SmallNetKernels

/// The kernels for AVX-512 CPUs (x86-64-v4: Intel Skylake-SP, Ice Lake, Sapphire Rapids; AMD
/// Zen 4 and later): 512-bit vectors with FMA, an 8×32 GEMM micro-kernel. The same code and
/// the same numbers as a host-only build on such a CPU.
public enum Variant: Kernels {
    public static let isa = ISA.avx512
}
