// Preprocessing: how raw pixels become the inputs a model was trained on.

/// The map from raw pixel values to model inputs, per channel c:
///
///     x_model = (x_raw · pixelScale − mean[c]) / std[c]
///
/// A model records the preprocessing it was trained with, so that raw pixels (bytes) given to
/// it anywhere — C, Python, the command line — are prepared the same way. Float inputs are
/// model inputs: they are used as given. `mean` and `std` hold one entry for all channels or
/// one per channel.
public struct Preprocessing: Equatable, Sendable {
    /// Raw value → scaled value (1/255 for 8-bit pixels).
    public let pixelScale: Float
    public let mean: [Float]
    public let std: [Float]

    /// The most channels that can have statistics of their own.
    public static let maxChannels = 16

    /// - Throws: `invalidArgument` for a non-finite or non-positive scale, a non-finite mean,
    ///   a std that is not finite and positive, or mean and std of different lengths outside
    ///   1...maxChannels.
    public init(pixelScale: Float, mean: [Float], std: [Float]) throws {
        try require(pixelScale.isFinite && pixelScale > 0, "pixel scale must be finite and positive, got \(pixelScale)")
        try require(!mean.isEmpty && mean.count <= Preprocessing.maxChannels && mean.count == std.count,
                    "mean and std need the same number of entries, 1...\(Preprocessing.maxChannels), got \(mean.count) and \(std.count)")
        try require(mean.allSatisfy(\.isFinite), "mean must be finite, got \(mean)")
        try require(std.allSatisfy { $0.isFinite && $0 > 0 }, "std must be finite and positive, got \(std)")
        self.pixelScale = pixelScale
        self.mean = mean
        self.std = std
    }

    private init(unchecked pixelScale: Float, _ mean: [Float], _ std: [Float]) {
        self.pixelScale = pixelScale
        self.mean = mean
        self.std = std
    }

    /// FashionMNIST's: (x/255 − 0.2860)/0.3530, the statistics of its training images.
    public static let fashionMNIST = Preprocessing(unchecked: 1 / 255, [FashionMNIST.pixelMean], [FashionMNIST.pixelStd])

    /// Inputs used as given.
    public static let identity = Preprocessing(unchecked: 1, [0], [1])

    public var isIdentity: Bool { self == .identity }

    /// The statistics of 8-bit images (N, C, H, W): pixel scale 1/255 and, per channel, the
    /// mean and (population) standard deviation of x/255, rounded to 4 decimals so that the
    /// same images always give the same constants (FashionMNIST's training images give
    /// exactly 0.2860 and 0.3530).
    /// - Throws: `invalidArgument` for more than `maxChannels` channels or no images.
    public static func statistics(of pixels: UnsafeBufferPointer<UInt8>, sampleShape: [Int]) throws -> Preprocessing {
        let channels = sampleShape.first ?? 0, plane = sampleShape.dropFirst().reduce(1, *)
        try require(channels >= 1 && channels <= maxChannels, "statistics need 1...\(maxChannels) channels, got \(channels)")
        try require(plane > 0 && pixels.count > 0 && pixels.count % (channels * plane) == 0,
                    "statistics need a whole number of images of shape \(sampleShape)")
        // A histogram per channel keeps the sums exact whatever the number of images.
        var histograms = [[Int]](repeating: [Int](repeating: 0, count: 256), count: channels)
        var offset = 0
        while offset < pixels.count {
            for c in 0..<channels {
                for v in pixels[(offset + c * plane)..<(offset + (c + 1) * plane)] { histograms[c][Int(v)] += 1 }
            }
            offset += channels * plane
        }
        var mean = [Float](), std = [Float]()
        for histogram in histograms {
            var count = 0.0, sum = 0.0, squares = 0.0
            for (value, n) in histogram.enumerated() where n > 0 {
                let x = Double(value) / 255, k = Double(n)
                count += k; sum += k * x; squares += k * x * x
            }
            let m = sum / count
            mean.append(Float(rounded4(m)))
            std.append(Float(Swift.max(rounded4(Swift.max(squares / count - m * m, 0).squareRoot()), 1e-4)))
        }
        return try Preprocessing(pixelScale: 1 / 255, mean: mean, std: std)
    }

    /// "(x/255 − 0.2860)/0.3530", per channel when they differ.
    public var summary: String {
        let scale = pixelScale == 1 ? "x" : (pixelScale == 1 / 255 ? "x/255" : "x·\(pixelScale)")
        func list(_ v: [Float]) -> String { v.count == 1 ? decimal(v[0]) : "[" + v.map(decimal).joined(separator: ", ") + "]" }
        if isIdentity { return "x (used as given)" }
        return "(\(scale) − \(list(mean)))/\(list(std))"
    }

    /// `{"pixel_scale": s, "mean": [...], "std": [...]}`, as stored in checkpoints.
    public var json: JSON {
        .object([("pixel_scale", .number(pixelScale)), ("mean", .array(mean.map { .number($0) })),
                 ("std", .array(std.map { .number($0) }))])
    }

    /// Reads what `json` wrote.
    /// - Throws: `io` for a malformed description, `invalidArgument` for bad values.
    public init(json: JSON) throws {
        guard let scale = json["pixel_scale"]?.doubleValue,
              let mean = json["mean"]?.arrayValue, let std = json["std"]?.arrayValue,
              mean.allSatisfy({ $0.doubleValue != nil }), std.allSatisfy({ $0.doubleValue != nil }) else {
            throw SmallNetError.io("preprocessing needs \"pixel_scale\", \"mean\" and \"std\" numbers, got \(json.serialized())")
        }
        try self.init(pixelScale: Float(scale), mean: mean.map { Float($0.doubleValue!) }, std: std.map { Float($0.doubleValue!) })
    }

    /// Checks that these statistics fit images of `channels` channels.
    /// - Throws: `shapeMismatch` otherwise.
    public func check(channels: Int) throws {
        guard mean.count == 1 || mean.count == channels else {
            throw SmallNetError.shapeMismatch("preprocessing has \(mean.count) channel statistics; the images have \(channels) channels")
        }
    }

    /// The affine map of channel c: x_model = x_raw · a + b, computed as the engine always has
    /// (a = scale/std, b = −mean/std), so results stay bit-identical.
    func coefficients(channel c: Int) -> (a: Float, b: Float) {
        let i = mean.count == 1 ? 0 : c
        let invStd = 1 / std[i]
        return (pixelScale * invStd, -mean[i] * invStd)
    }
}

private func rounded4(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }

/// A Float in its shortest round-tripping form: "0.286".
private func decimal(_ x: Float) -> String { "\(x)" }
