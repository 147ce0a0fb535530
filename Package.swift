// swift-tools-version:6.0
// smallnet: a small CPU deep-learning engine for FCN and CNN image classifiers.
import PackageDescription

let package = Package(
    name: "smallnet",
    products: [
        .library(name: "SmallNet", targets: ["SmallNet"]),
        .executable(name: "smallnet", targets: ["smallnet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "SmallNet", dependencies: ["CZlib"]),
        .executableTarget(
            name: "smallnet",
            dependencies: ["SmallNet", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "SmallNetTests", dependencies: ["SmallNet", "CZlib"]),
    ],
    swiftLanguageModes: [.v5]
)
