// swift-tools-version:6.0
// smallnet: a small CPU deep-learning engine for FCN and CNN image classifiers.
import PackageDescription

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
        .target(name: "SmallNet", dependencies: ["CZlib"]),
        // include/smallnet.h as a module, so the shim's signatures use the header's own types.
        .systemLibrary(name: "CSmallNetABI", path: "Sources/CSmallNetABI"),
        .target(name: "SmallNetC", dependencies: ["SmallNet", "CSmallNetABI"]),
        .executableTarget(
            name: "smallnet",
            dependencies: ["SmallNet", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "SmallNetTests", dependencies: ["SmallNet", "CZlib"]),
    ],
    swiftLanguageModes: [.v5]
)
