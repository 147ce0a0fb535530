// The kernel variant this process runs: chosen once, by CPUID, from the three compiled ones.
import SmallNetKernels
import SmallNetKernelsAVX2
import SmallNetKernelsAVX512
import SmallNetKernelsBaseline

/// The kernels every hot loop of the engine calls: the variant `ISAChoice.process` names,
/// taken on first use.
///
/// On a CPU below the baseline no SmallNet code may run at all (it is built for x86-64-v2):
/// the C API and the command-line tool check `ISAChoice.process.problem` before their first
/// call into SmallNet.
let kernels: any Kernels.Type = kernelVariant(ISAChoice.process.isa ?? .baseline)

/// The kernels compiled for `isa`, whether or not this CPU can run them.
public func kernelVariant(_ isa: ISA) -> any Kernels.Type {
    switch isa {
    case .avx512: return SmallNetKernelsAVX512.Variant.self
    case .avx2: return SmallNetKernelsAVX2.Variant.self
    case .baseline: return SmallNetKernelsBaseline.Variant.self
    }
}

/// The variants this CPU can run, best first.
public var runnableKernelVariants: [any Kernels.Type] {
    ISA.allCases.filter { CPUFeatures.host.missing(for: $0).isEmpty }.map(kernelVariant)
}
