// Which kernel variant runs: the CPU's features, read once, and the SMALLNET_ISA override.
import CSmallNetCPU
#if canImport(Glibc)
import Glibc
#endif

/// An instruction set the kernels are compiled for, one module each (SmallNetKernelsAVX512,
/// SmallNetKernelsAVX2, SmallNetKernelsBaseline), best first. The rest of the engine is built
/// for `baseline`, the least a CPU needs to run smallnet at all.
public enum ISA: String, CaseIterable, Sendable {
    /// x86-64-v4: AVX-512 F/BW/CD/DQ/VL, 512-bit vectors and FMA.
    case avx512
    /// x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE; 256-bit vectors.
    case avx2
    /// x86-64-v2: SSE4.2, SSSE3, POPCNT, CMPXCHG16B, LAHF; 128-bit vectors, no FMA.
    case baseline

    /// The micro-architecture level, as compilers spell it (`-march=`).
    public var level: String {
        switch self {
        case .avx512: return "x86-64-v4"
        case .avx2: return "x86-64-v3"
        case .baseline: return "x86-64-v2"
        }
    }

    /// The CPU features this level requires, as `CPUFeatures` bits.
    public var requiredFeatures: UInt32 { requirements.reduce(0) { $0 | $1.bit } }

    /// The CPU features this level requires, with their names.
    var requirements: [(bit: UInt32, name: String)] {
        let v2: [(UInt32, String)] = [
            (UInt32(SMALLNET_CPU_SSE3), "SSE3"), (UInt32(SMALLNET_CPU_SSSE3), "SSSE3"),
            (UInt32(SMALLNET_CPU_SSE4_1), "SSE4.1"), (UInt32(SMALLNET_CPU_SSE4_2), "SSE4.2"),
            (UInt32(SMALLNET_CPU_POPCNT), "POPCNT"), (UInt32(SMALLNET_CPU_CX16), "CMPXCHG16B"),
            (UInt32(SMALLNET_CPU_LAHF), "LAHF/SAHF"),
        ]
        let v3: [(UInt32, String)] = [
            (UInt32(SMALLNET_CPU_AVX), "AVX"), (UInt32(SMALLNET_CPU_AVX2), "AVX2"), (UInt32(SMALLNET_CPU_FMA), "FMA"),
            (UInt32(SMALLNET_CPU_BMI1), "BMI1"), (UInt32(SMALLNET_CPU_BMI2), "BMI2"), (UInt32(SMALLNET_CPU_F16C), "F16C"),
            (UInt32(SMALLNET_CPU_LZCNT), "LZCNT"), (UInt32(SMALLNET_CPU_MOVBE), "MOVBE"),
            (UInt32(SMALLNET_CPU_OS_YMM), "AVX state saved by the OS"),
        ]
        let v4: [(UInt32, String)] = [
            (UInt32(SMALLNET_CPU_AVX512F), "AVX-512F"), (UInt32(SMALLNET_CPU_AVX512BW), "AVX-512BW"),
            (UInt32(SMALLNET_CPU_AVX512CD), "AVX-512CD"), (UInt32(SMALLNET_CPU_AVX512DQ), "AVX-512DQ"),
            (UInt32(SMALLNET_CPU_AVX512VL), "AVX-512VL"), (UInt32(SMALLNET_CPU_OS_ZMM), "AVX-512 state saved by the OS"),
        ]
        switch self {
        case .avx512: return v2 + v3 + v4
        case .avx2: return v2 + v3
        case .baseline: return v2
        }
    }
}

/// The instruction-set features of a CPU (CPUID and XGETBV, see `smallnet_cpu_features`).
public struct CPUFeatures: Sendable {
    public let bits: UInt32

    public init(bits: UInt32) { self.bits = bits }

    /// The CPU this process runs on. On other architectures than x86-64 every variant is
    /// the portable build of the same code, so all are taken as supported.
    public static let host: CPUFeatures = {
        #if arch(x86_64)
        return CPUFeatures(bits: smallnet_cpu_features())
        #else
        return CPUFeatures(bits: .max)
        #endif
    }()

    /// The features `isa` needs that this CPU lacks (empty: it can run that variant).
    public func missing(for isa: ISA) -> [String] {
        isa.requirements.filter { bits & $0.bit == 0 }.map(\.name)
    }

    /// The best variant this CPU runs, nil when it lacks even the baseline.
    public var best: ISA? { ISA.allCases.first { missing(for: $0).isEmpty } }
}

/// The kernel variant this process runs, decided once: the best one the CPU supports, or the
/// one named by the environment variable `SMALLNET_ISA` (avx512, avx2 or baseline; for tests).
public struct ISAChoice: Sendable {
    /// The variant that runs; nil when none can (then `problem` says why).
    public let isa: ISA?
    /// Why nothing can run: the CPU lacks the baseline, or `SMALLNET_ISA` names a variant the
    /// CPU lacks, or none at all. One sentence.
    public let problem: String?
    /// Whether `SMALLNET_ISA` chose the variant.
    public let overridden: Bool

    /// Chooses for a CPU with `features`, honouring `request` (the value of SMALLNET_ISA) when
    /// it is neither nil nor empty.
    public init(features: CPUFeatures, request: String?) {
        let baseMissing = features.missing(for: .baseline)
        if !baseMissing.isEmpty {
            isa = nil
            overridden = false
            problem = "this CPU lacks \(baseMissing.joined(separator: ", ")): smallnet needs an x86-64-v2 CPU "
                + "(SSE4.2 and POPCNT, Intel Nehalem / AMD Bulldozer or newer)"
            return
        }
        guard let request, !request.isEmpty else {
            isa = features.best
            problem = nil
            overridden = false
            return
        }
        overridden = true
        guard let wanted = ISA(rawValue: request) else {
            isa = nil
            problem = "SMALLNET_ISA=\(request) is not a kernel variant: use avx512, avx2 or baseline (or unset it)"
            return
        }
        let missing = features.missing(for: wanted)
        if missing.isEmpty {
            isa = wanted
            problem = nil
        } else {
            isa = nil
            problem = "SMALLNET_ISA=\(request) asks for the \(wanted.level) kernels, but this CPU lacks "
                + "\(missing.joined(separator: ", ")) (its best variant is \(features.best?.rawValue ?? "none"))"
        }
    }

    /// This process's choice, made on first use from the host CPU and `SMALLNET_ISA`.
    public static let process: ISAChoice = {
        let request = getenv("SMALLNET_ISA").map { String(cString: $0) }
        return ISAChoice(features: .host, request: request)
    }()
}
