// Preprocessing and class names: statistics, how fit records them, checkpoints, copies.
import XCTest
@testable import SmallNet

final class PreprocessingTests: XCTestCase {
    /// Raw 8-bit 3-class images (N, 1, 6, 6): the class is the brightest band of rows.
    func rawData(count: Int, seed: UInt64) throws -> Dataset {
        var g = RandomGenerator(seed: seed)
        var pixels = [UInt8](), labels = [Int32]()
        for _ in 0..<count {
            let y = g.nextInt(below: 3)
            for pixel in 0..<36 { pixels.append(UInt8(g.nextInt(below: 60) + (pixel / 12 == y ? 150 : 20))) }
            labels.append(Int32(y))
        }
        return try Dataset(rawPixels: pixels, labels: labels, sampleShape: [1, 6, 6], classCount: 3,
                           classNames: ["top", "middle", "bottom"])
    }

    func smallModel() throws -> Sequential {
        var recipe = Recipe.defaults(for: .fcn)
        recipe.hidden = [16]
        return try recipe.buildModel(inputShape: [1, 6, 6], classes: 3)
    }

    func testStatisticsArePerChannelAndRoundedToFourDecimals() throws {
        // Channel 0 holds 0 and 255 (mean 0.5, std 0.5); channel 1 holds 51 everywhere (0.2, std 0 → floor 1e-4).
        let pixels: [UInt8] = [0, 255, 51, 51, 255, 0, 51, 51]  // two images (2, 1, 2)
        let p = try pixels.withUnsafeBufferPointer { try Preprocessing.statistics(of: $0, sampleShape: [2, 1, 2]) }
        XCTAssertEqual(p.pixelScale, 1 / 255)
        XCTAssertEqual(p.mean, [0.5, 0.2])
        XCTAssertEqual(p.std, [0.5, 0.0001])
        XCTAssertThrowsError(try pixels.withUnsafeBufferPointer { try Preprocessing.statistics(of: $0, sampleShape: [3, 1, 2]) })
    }

    func testFashionMNISTTrainingImagesGiveTheirPublishedConstants() throws {
        guard let train = try? FashionMNIST.load(directory: FashionMNIST.resolveDirectory(nil), train: true, verify: false),
              case .bytes(let bytes) = train.pixels else {
            throw XCTSkip("FashionMNIST is not installed")
        }
        let p = try bytes.withUnsafeBufferPointer { try Preprocessing.statistics(of: $0, sampleShape: [1, 28, 28]) }
        XCTAssertEqual(p, Preprocessing.fashionMNIST)
        XCTAssertEqual(train.preprocessing, Preprocessing.fashionMNIST)
    }

    func testBadPreprocessingIsRefused() {
        XCTAssertThrowsError(try Preprocessing(pixelScale: 0, mean: [0], std: [1]))
        XCTAssertThrowsError(try Preprocessing(pixelScale: 1, mean: [0], std: [0]))
        XCTAssertThrowsError(try Preprocessing(pixelScale: 1, mean: [.nan], std: [1]))
        XCTAssertThrowsError(try Preprocessing(pixelScale: 1, mean: [0, 0], std: [1]))
        XCTAssertThrowsError(try Preprocessing(pixelScale: 1, mean: [], std: []))
        XCTAssertThrowsError(try smallModel().setPreprocessing(Preprocessing(pixelScale: 1, mean: [0, 0], std: [1, 1])))
        XCTAssertThrowsError(try smallModel().setClassNames(["a", "b"]))
    }

    func testFitRecordsTheDataPreprocessingAndNamesAndUsesThemForRawData() throws {
        let data = try rawData(count: 240, seed: 1)
        let model = try smallModel()
        XCTAssertNil(model.preprocessing)
        XCTAssertEqual(model.className(2), "2")
        var config = TrainingConfig()
        config.epochs = 2
        config.batchSize = 32
        let optimizer = try SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9)
        try Trainer.fit(model: model, optimizer: optimizer, train: data, config: config)
        XCTAssertEqual(model.preprocessing, data.preprocessing)
        XCTAssertEqual(model.classNames, ["top", "middle", "bottom"])

        // The same images prepared by hand as floats give the same probabilities.
        let floats = try Tensor(shape: [data.count, 1, 6, 6])
        var labels: [Int32] = [], unused = RandomGenerator(seed: 0)
        data.gather(Array(0..<data.count)[...], into: floats, labels: &labels, generator: &unused)
        let prepared = try floats.values.withUnsafeBufferPointer { i in
            try labels.withUnsafeBufferPointer { try Dataset(images: i, labels: $0, sampleShape: [1, 6, 6], classCount: 3) }
        }
        XCTAssertEqual(try Trainer.predict(model: model, data: data), try Trainer.predict(model: model, data: prepared))

        // Raw data with other statistics of its own is still prepared the model's way.
        let other = try Dataset(rawPixels: (0..<(data.count * 36)).map { _ in 0 }, labels: data.labels,
                                sampleShape: [1, 6, 6], classCount: 3, preprocessing: .fashionMNIST)
        XCTAssertNotEqual(other.preprocessing, model.preprocessing)
        let evaluation = try Trainer.evaluate(model: model, data: data)
        XCTAssertGreaterThan(evaluation.accuracy, 0.9)
    }

    func testCheckpointsKeepPreprocessingAndClassNames() throws {
        let model = try smallModel()
        try model.setPreprocessing(Preprocessing(pixelScale: 1 / 255, mean: [0.25], std: [0.5]))
        try model.setClassNames(["a", "b", "c"])
        let bytes = Checkpoint.serialize(model, trainingConfig: "{}")
        let loaded = try Checkpoint.load(bytes: bytes, name: "memory")
        XCTAssertEqual(loaded.preprocessing, model.preprocessing)
        XCTAssertEqual(loaded.classNames, ["a", "b", "c"])
        XCTAssertFalse(loaded.isTraining)
        XCTAssertEqual(Checkpoint.serialize(loaded, trainingConfig: "{}"), bytes)

        // Layers without bias (the CNN's convolutions) declare no bias values.
        var recipe = Recipe.defaults(for: .cnn)
        recipe.parameterBudget = 10_000
        let cnn = try recipe.buildModel()
        XCTAssertEqual(Checkpoint.serialize(try Checkpoint.load(bytes: Checkpoint.serialize(cnn), name: "cnn")),
                       Checkpoint.serialize(cnn))

        let unnamed = try Checkpoint.load(bytes: Checkpoint.serialize(try smallModel()), name: "memory")
        XCTAssertNil(unnamed.preprocessing)
        XCTAssertEqual(unnamed.classNames, [])
    }

    func testCopyIsIndependent() throws {
        let model = try smallModel()
        try model.setPreprocessing(.fashionMNIST)
        try model.setClassNames(["a", "b", "c"])
        let twin = try model.copy()
        XCTAssertEqual(Checkpoint.serialize(twin), Checkpoint.serialize(model))
        twin.namedParameters[0].parameter.value.data[0] += 1
        try twin.setClassNames([])
        XCTAssertNotEqual(Checkpoint.serialize(twin), Checkpoint.serialize(model))
        XCTAssertEqual(model.classNames, ["a", "b", "c"])
    }
}

/// The safetensors reader is as strict as the format's reference reader.
final class CheckpointStrictnessTests: XCTestCase {
    /// A checkpoint of a tiny model with its header replaced by `edit(header)` and `extra` bytes appended.
    func checkpoint(editing edit: (String) -> String = { $0 }, extra: [UInt8] = []) throws -> [UInt8] {
        let model = try Sequential(inputShape: [1, 1, 2], layers: [Flatten(), try Linear(2, 2, generator: &generatorForTests)])
        let bytes = Checkpoint.serialize(model)
        var size = 0
        for i in 0..<8 { size |= Int(bytes[i]) << (8 * i) }
        var header = Array(edit(String(decoding: bytes[8..<(8 + size)], as: UTF8.self)).utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        return out + header + Array(bytes[(8 + size)...]) + extra
    }

    func expectRefused(_ bytes: [UInt8], _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Checkpoint.load(bytes: bytes, name: "t"), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(words), "\(error)", file: file, line: line)
        }
    }

    func testWellFormedLoads() throws {
        XCTAssertNoThrow(try Checkpoint.load(bytes: try checkpoint(), name: "t"))
    }

    func testTrailingBytesGapsAndOverlapsAreRefused() throws {
        expectRefused(try checkpoint(extra: [0, 0, 0, 0]), "bytes after the last tensor")
        // The bias (8 bytes at 16..<24) moved to overlap the weight.
        expectRefused(try checkpoint(editing: { $0.replacingOccurrences("[16,24]", "[8,16]") }), "overlap")
    }

    func testDuplicateKeysAndBadShapesAreRefused() throws {
        expectRefused(try checkpoint(editing: { $0.replacingOccurrences("\"1.bias\":", "\"1.weight\":") }), "twice")
        expectRefused(try checkpoint(editing: { $0.replacingOccurrences("\"shape\":[2,2]", "\"shape\":[2,\"x\",2]") }), "not a non-negative integer")
        expectRefused(try checkpoint(editing: { $0.replacingOccurrences("\"shape\":[2,2]", "\"shape\":[2,3]") }), "needs 24 bytes")
        expectRefused(try checkpoint(editing: { $0.replacingOccurrences("\"F32\"", "\"Q7\"") }), "known dtype")
    }

    func testGzipIsRefused() {
        expectRefused([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3], "gzip")
    }
}

private var generatorForTests = RandomGenerator(seed: 0)

private extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var out = "", rest = Substring(self)
        while let range = rest.range(of: target) {
            out += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
