// Data: IDX files (raw, gzip, damaged), SHA-256, FashionMNIST errors, datasets and augmentation.
import XCTest
import CZlib
@testable import SmallNet

final class DataTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = "/tmp/smallnet-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(mkdir(directory, 0o755), 0)
    }

    override func tearDown() {
        _ = system("rm -rf '\(directory)'")
    }

    /// IDX bytes for `dims` with data 0, 1, 2, … (mod 256).
    func idx(_ dims: [Int]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 8, UInt8(dims.count)]
        for d in dims { out += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        out += (0..<dims.reduce(1, *)).map { UInt8($0 % 256) }
        return out
    }

    func write(_ name: String, _ bytes: [UInt8], gzip: Bool = false) -> String {
        let path = "\(directory)/\(name)"
        if gzip {
            let f = gzopen(path, "wb")!
            _ = bytes.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) }
            gzclose(f)
        } else {
            let f = fopen(path, "wb")!
            _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
            fclose(f)
        }
        return path
    }

    func ioMessage(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch let e as SmallNetError { return e.message } catch { return "\(error)" }
    }

    func testReadsRawAndGzipIDX() throws {
        let raw = try readIDX(write("a.idx", idx([3, 2, 2])))
        XCTAssertEqual(raw.dimensions, [3, 2, 2])
        XCTAssertEqual(raw.bytes, (0..<12).map { UInt8($0) })
        let gz = try readIDX(write("a.idx.gz", idx([3, 2, 2]), gzip: true))
        XCTAssertEqual(gz.dimensions, raw.dimensions)
        XCTAssertEqual(gz.bytes, raw.bytes)
    }

    func testDamagedIDXFilesThrowNamingTheFile() throws {
        var truncated = idx([4, 3]); truncated.removeLast(2)
        let p1 = write("truncated.idx", truncated)
        XCTAssertTrue(ioMessage { try readIDX(p1) }.contains("truncated"))
        XCTAssertTrue(ioMessage { try readIDX(p1) }.contains(p1))
        var magic = idx([2]); magic[0] = 1
        let p2 = write("magic.idx", magic)
        XCTAssertTrue(ioMessage { try readIDX(p2) }.contains("magic"))
        let p3 = write("extra.idx", idx([2]) + [9, 9])
        XCTAssertTrue(ioMessage { try readIDX(p3) }.contains("trailing"))
        var type = idx([2]); type[2] = 0x0D
        let p4 = write("type.idx", type)
        XCTAssertTrue(ioMessage { try readIDX(p4) }.contains("type"))
        XCTAssertTrue(ioMessage { try readIDX("\(self.directory)/missing.idx") }.contains("no such file"))
        // A gzip stream cut in the middle.
        let full = write("whole.gz", idx([100, 28, 28]).map { $0 &* 37 }, gzip: true)
        let compressed = try readWhole(full)
        let p5 = write("cut.gz", Array(compressed[..<(compressed.count / 2)]))
        let message = ioMessage { try readIDX(p5) }
        XCTAssertTrue(message.contains(p5) && (message.contains("truncated") || message.contains("corrupt")), message)
        // Bytes that are not gzip after the compressed data; two members and zero padding are fine.
        let p6 = write("garbage.gz", compressed + [1, 2, 3])
        XCTAssertTrue(ioMessage { try readIDX(p6) }.contains("not gzip"))
        let small = try readWhole(write("small.gz", idx([2, 2]), gzip: true))
        let members = try readFileDecompressing(write("members.gz", small + small + [0, 0, 0]))
        XCTAssertEqual(members, idx([2, 2]) + idx([2, 2]))
        // A FIFO is refused at once instead of blocking the read.
        let fifo = "\(directory)/fifo.idx"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertTrue(ioMessage { try readIDX(fifo) }.contains("not a regular file"))
    }

    func readWhole(_ path: String) throws -> [UInt8] {
        let f = fopen(path, "rb")!
        defer { fclose(f) }
        var out: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n == 0 { break }
            out += buffer[..<n]
        }
        return out
    }

    func testSHA256Vectors() {
        XCTAssertEqual(Array("".utf8).withUnsafeBufferPointer { sha256Hex($0) },
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(Array("abc".utf8).withUnsafeBufferPointer { sha256Hex($0) },
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        XCTAssertEqual(long.withUnsafeBufferPointer { sha256Hex($0) },
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testFashionMNISTLayoutChecksumsAndMissingDirectory() throws {
        let missing = ioMessage { try FashionMNIST.load(directory: "\(self.directory)/nowhere", train: true) }
        XCTAssertTrue(missing.contains("dataset-fashion-mnist"), missing)
        // Generated files under the FashionMNIST names: the checksum fails, or loads unverified.
        _ = write("train-images-idx3-ubyte.gz", idx([5, 4, 4]), gzip: true)
        _ = write("train-labels-idx1-ubyte", [0, 0, 8, 1, 0, 0, 0, 5, 0, 1, 2, 3, 9])
        let mismatch = ioMessage { try FashionMNIST.load(directory: self.directory, train: true) }
        XCTAssertTrue(mismatch.contains("SHA-256") && mismatch.contains("train-images"), mismatch)
        let data = try FashionMNIST.load(directory: directory, train: true, verify: false)
        XCTAssertEqual(data.count, 5)
        XCTAssertEqual(data.sampleShape, [1, 4, 4])
        XCTAssertEqual(data.labels, [0, 1, 2, 3, 9])
        let noTest = ioMessage { try FashionMNIST.load(directory: self.directory, train: false, verify: false) }
        XCTAssertTrue(noTest.contains("t10k-images"), noTest)
        _ = write("t10k-images-idx3-ubyte", idx([2, 4, 4]))
        _ = write("t10k-labels-idx1-ubyte", [0, 0, 8, 1, 0, 0, 0, 2, 0, 10])
        let badLabel = ioMessage { try FashionMNIST.load(directory: self.directory, train: false, verify: false) }
        XCTAssertTrue(badLabel.contains("label 10"), badLabel)
    }

    func testDatasetFromMemoryValidatesAndNormalises() throws {
        let images: [Float] = [0, 1, 2, 3, 4, 5, 6, 7]
        let labels: [Int32] = [1, 0]
        let data = try images.withUnsafeBufferPointer { i in
            try labels.withUnsafeBufferPointer { try Dataset(images: i, labels: $0, sampleShape: [1, 2, 2], classCount: 2) }
        }
        let batch = try Tensor(shape: [0])
        var out: [Int32] = []
        var g = RandomGenerator(seed: 0)
        data.gather([1, 0], into: batch, labels: &out, generator: &g)
        XCTAssertEqual(batch.shape, [2, 1, 2, 2])
        XCTAssertEqual(batch.values, [4, 5, 6, 7, 0, 1, 2, 3])
        XCTAssertEqual(out, [0, 1])
        // Consecutive samples are a view of the dataset's floats; the next gather copies again.
        data.gather([1], into: batch, labels: &out, generator: &g)
        XCTAssertEqual(batch.shape, [1, 1, 2, 2])
        XCTAssertEqual(batch.values, [4, 5, 6, 7])
        XCTAssertEqual(out, [0])
        guard case .floats(let stored) = data.pixels else { return XCTFail("float pixels") }
        XCTAssertEqual(batch.data, stored.data + 4)
        data.gather([1, 0], into: batch, labels: &out, generator: &g)
        XCTAssertNotEqual(batch.data, stored.data)
        XCTAssertEqual(batch.values, [4, 5, 6, 7, 0, 1, 2, 3])
        XCTAssertEqual(stored.values, images)
        XCTAssertThrowsError(try images.withUnsafeBufferPointer { i in
            try [Int32(0)].withUnsafeBufferPointer { try Dataset(images: i, labels: $0, sampleShape: [1, 2, 2]) }
        })
        XCTAssertThrowsError(try images.withUnsafeBufferPointer { i in
            try [Int32(0), 10].withUnsafeBufferPointer { try Dataset(images: i, labels: $0, sampleShape: [1, 2, 2]) }
        })
        let (rest, held) = try data.split(holdout: 1, seed: 3)
        XCTAssertEqual(rest.count + held.count, 2)
        XCTAssertThrowsError(try data.split(holdout: 2, seed: 3))
        XCTAssertThrowsError(try data.subset([2]))
    }

    /// A batch large enough to be prepared over the pool: the same values, labels and generator
    /// state as on one thread, raw and float pixels, with and without augmentation.
    func testGatherOverThreadsMatchesOneThread() throws {
        let n = 80, shape = [2, 12, 12], size = 288
        var g = RandomGenerator(seed: 5)
        let bytes = (0..<(n * size)).map { _ in UInt8(g.nextInt(below: 256)) }
        let labels = (0..<n).map { _ in Int32(g.nextInt(below: 10)) }
        let raw = Dataset(sampleShape: shape, pixels: .bytes(bytes), labels: labels, classCount: 10, classNames: [],
                          preprocessing: try Preprocessing(pixelScale: 1 / 255, mean: [0.3, 0.5], std: [0.2, 0.4]))
        let floats = Dataset(sampleShape: shape, pixels: .floats(try Tensor(shape: [n] + shape, values: bytes.map { Float($0) / 7 })),
                             labels: labels, classCount: 10, classNames: [], preprocessing: .identity)
        let indices = (0..<n).map { ($0 * 37) % n }[3...]
        XCTAssertGreaterThanOrEqual(indices.count * size, valuesWorthThreads)
        let pool = ThreadPool(threads: 2)
        for data in [raw, floats] {
            for augmentation in [nil, try Augmentation(cropPadding: 2, horizontalFlip: true)] {
                func gathered(_ pool: ThreadPool?) -> ([Float], [Int32], Float) {
                    let batch = Tensor(uncheckedShape: [0], count: 0)
                    var out: [Int32] = []
                    var generator = RandomGenerator(seed: 9)
                    data.gather(indices, into: batch, labels: &out, augmentation: augmentation, generator: &generator,
                                pool: pool)
                    return (batch.values, out, generator.nextUniform())
                }
                let one = gathered(nil), two = gathered(pool)
                XCTAssertEqual(one.0, two.0)
                XCTAssertEqual(one.1, two.1)
                XCTAssertEqual(one.1, indices.map { labels[$0] })
                XCTAssertEqual(one.2, two.2)
                XCTAssertNotEqual(one.0[0], one.0[size])
            }
        }
    }

    func testAugmentationShiftsAndFlips() throws {
        let flip = try Augmentation(horizontalFlip: true)
        var g = RandomGenerator(seed: 1)
        var flipped = 0
        for _ in 0..<20 {
            var image: [Float] = [1, 2, 3, 4, 5, 6]
            image.withUnsafeMutableBufferPointer { flip.apply($0.baseAddress!, shape: [1, 2, 3], background: { _ in 0 }, generator: &g) }
            XCTAssertTrue(image == [1, 2, 3, 4, 5, 6] || image == [3, 2, 1, 6, 5, 4], "\(image)")
            if image[0] == 3 { flipped += 1 }
        }
        XCTAssertTrue(flipped > 3 && flipped < 17)
        let shift = try Augmentation(cropPadding: 1)
        var image: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        image.withUnsafeMutableBufferPointer { shift.apply($0.baseAddress!, shape: [1, 3, 3], background: { _ in -1 }, generator: &g) }
        XCTAssertEqual(image.filter { $0 != -1 }.count >= 4, true)
        XCTAssertThrowsError(try Augmentation(cropPadding: -1))
    }
}
