// swift-tools-version:6.0
// smallnet: a small CPU deep-learning engine for FCN and CNN image classifiers.
import PackageDescription

// Code generation. The engine is built for x86-64-v2, its hot loops (Sources/Kernels) once per
// instruction set, each into its own module with its own flags, and SmallNet picks one of these
// by CPUID when it is first used. The C API shim, the command-line tool and the CPU check are
// built for plain x86-64, so that a CPU below the baseline gets an error, not an illegal
// instruction. `make NATIVE=1` adds `-Xcc -march=native`, which overrides all of these.
#if arch(x86_64)
func march(_ level: String) -> [SwiftSetting] { [.unsafeFlags(["-Xcc", "-march=\(level)"])] }
#else
func march(_ level: String) -> [SwiftSetting] { [] }
#endif

/// A kernel variant: the sources of Sources/Kernels, linked into Sources/<name>, compiled for `level`.
func kernelVariant(_ name: String, level: String, defines: [String]) -> Target {
    .target(name: name, dependencies: ["SmallNetKernels"],
            swiftSettings: march(level) + defines.map { .define($0) })
}

let package = Package(
    name: "smallnet",
    products: [
        .library(name: "SmallNet", targets: ["SmallNet"]),
        // The C ABI; the Makefile links it statically against the Swift runtime as libsmallnet.so.
        .library(name: "SmallNetC", type: .dynamic, targets: ["SmallNetC"]),
        .executable(name: "smallnet", targets: ["smallnet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // CPUID, for plain x86-64.
        .target(name: "CSmallNetCPU"),
        // The kernels' interface (the `Kernels` protocol, operand types) and the choice of variant.
        .target(name: "SmallNetKernels", dependencies: ["CSmallNetCPU"]),
        kernelVariant("SmallNetKernelsAVX512", level: "x86-64-v4", defines: ["SMALLNET_AVX512", "SMALLNET_FMA"]),
        kernelVariant("SmallNetKernelsAVX2", level: "x86-64-v3", defines: ["SMALLNET_FMA"]),
        kernelVariant("SmallNetKernelsBaseline", level: "x86-64-v2", defines: []),
        .target(name: "SmallNet",
                dependencies: ["CZlib", "SmallNetKernels", "SmallNetKernelsAVX512", "SmallNetKernelsAVX2",
                               "SmallNetKernelsBaseline"],
                swiftSettings: march("x86-64-v2")),
        // include/smallnet.h as a module, so the shim's signatures use the header's own types.
        .systemLibrary(name: "CSmallNetABI", path: "Sources/CSmallNetABI"),
        .target(name: "SmallNetC", dependencies: ["SmallNet", "SmallNetKernels", "CSmallNetABI"]),
        .executableTarget(
            name: "smallnet",
            dependencies: ["SmallNet", "SmallNetKernels",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "SmallNetTests",
                    dependencies: ["SmallNet", "CZlib", "SmallNetKernels", "SmallNetKernelsAVX512", "SmallNetKernelsAVX2",
                                   "SmallNetKernelsBaseline"]),
    ],
    swiftLanguageModes: [.v5]
)
