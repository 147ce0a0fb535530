// The kernels compiled for x86-64-v3 (AVX2 + FMA). The sources are Sources/Kernels, linked here.
import SmallNetKernels

/// The kernels for AVX2 CPUs (x86-64-v3: AVX2, FMA, BMI2; Intel Haswell, AMD Zen and later):
/// 256-bit vectors with FMA, a 6×16 GEMM micro-kernel. Its sums are those of the AVX-512
/// variant, in the same order: the same numbers.
public enum Variant: Kernels {
    public static let isa = ISA.avx2
}
