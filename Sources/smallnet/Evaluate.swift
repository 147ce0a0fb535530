// `smallnet evaluate`: a saved model's accuracy, loss and confusion matrix on labelled test images.
import ArgumentParser
import SmallNet

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a saved model on the FashionMNIST test images (or other IDX files).",
        discussion: """
            The images are raw 8-bit pixels: the model prepares them with the preprocessing it \
            recorded when it was trained.
            """)

    @Argument(help: "A checkpoint written by `smallnet train --save` (or any smallnet .safetensors file).")
    var checkpoint: String
    @Option(help: "FashionMNIST directory (default: $SMALLNET_DATA or \(FashionMNIST.defaultDirectory)).")
    var data: String?
    @Flag(name: .customLong("no-verify"), help: "Skip the SHA-256 check of the data files (for other IDX data).")
    var noVerify = false
    @Option(help: "An IDX image file (N, H, W) to evaluate on instead of FashionMNIST's test split; needs --labels.")
    var images: String?
    @Option(help: "The IDX label file (N) that goes with --images.")
    var labels: String?
    @Option(help: "Threads for the kernels (default: all processors).")
    var threads: Int?
    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    func run() throws {
        reportingErrors {
            let model = try loadCheckpoint(checkpoint)
            let (test, source) = try testData(for: model)
            let result = try Trainer.evaluate(model: model, data: test, pool: try threadPool(threads))

            print("model \(checkpoint): \(model.parameterCount) parameters, input \(model.inputShape.map(String.init).joined(separator: "×")), preprocessing \(model.preprocessing?.summary ?? "not recorded (the data's own)")")
            print("data \(source): \(test.count) images")
            print("accuracy \(percent(result.accuracy)) %, loss \(fixed(result.loss, 4))")
            printConfusion(result.confusion, names: (0..<result.confusion.count).map(model.className))
            if let json {
                try writeTextFile(json, evaluationJSON(model: model, source: source, count: test.count,
                                                       result: result).serialized(indent: 2) + "\n")
            }
        }
    }

    /// The labelled images to evaluate on, and where they came from.
    func testData(for model: Sequential) throws -> (Dataset, String) {
        switch (images, labels) {
        case (nil, nil):
            let directory = FashionMNIST.resolveDirectory(data)
            return (try FashionMNIST.load(directory: directory, train: false, verify: !noVerify),
                    "FashionMNIST test split in \(directory)")
        case (let images?, let labels?):
            guard data == nil else { throw SmallNetError.invalidArgument("give either --data or --images and --labels, not both") }
            return (try labelledIDX(images: images, labels: labels, model: model), images)
        default:
            throw SmallNetError.invalidArgument("--images and --labels go together: give both or neither")
        }
    }

    func evaluationJSON(model: Sequential, source: String, count: Int, result: Evaluation) -> JSON {
        .object(resultHeader() + [
            ("checkpoint", .string(checkpoint)),
            ("data", .string(source)),
            ("images", .number(count)),
            ("accuracy", .number(result.accuracy)),
            ("loss", .number(result.loss)),
            ("preprocessing", model.preprocessing?.json ?? .null),
            ("class_names", .array((0..<result.confusion.count).map { .string(model.className($0)) })),
            ("confusion", .array(result.confusion.map { .array($0.map { .number($0) }) })),
            ("per_class_accuracy", .array(result.perClassAccuracy.map { .number($0) })),
        ])
    }
}

/// A dataset from an IDX image file and an IDX label file, raw pixels prepared the model's way.
/// - Throws: `notFound`/`io` naming the file for a missing or malformed file, or labels that do
///   not fit the images or the model's classes.
func labelledIDX(images: String, labels: String, model: Sequential) throws -> Dataset {
    try checkInputFile(images, what: "IDX image")
    try checkInputFile(labels, what: "IDX label")
    let pixels = try readIDX(images), targets = try readIDX(labels)
    guard pixels.dimensions.count == 3 else {
        throw SmallNetError.io("\(images): expected images of 3 dimensions (N, H, W), got \(pixels.dimensions)")
    }
    guard targets.dimensions.count == 1 else {
        throw SmallNetError.io("\(labels): expected labels of 1 dimension (N), got \(targets.dimensions)")
    }
    guard targets.dimensions[0] == pixels.dimensions[0] else {
        throw SmallNetError.io("\(labels): \(targets.dimensions[0]) labels for the \(pixels.dimensions[0]) images of \(images)")
    }
    guard pixels.dimensions[0] > 0 else { throw SmallNetError.io("\(images): no images") }
    let shape = [1, pixels.dimensions[1], pixels.dimensions[2]]
    guard shape == model.inputShape else {
        throw SmallNetError.shapeMismatch("\(images): the images are \(shape[2])×\(shape[1]) pixels; the model takes inputs of shape \(model.inputShape)")
    }
    let classes = model.outputShape.reduce(1, *)
    if let i = targets.bytes.firstIndex(where: { Int($0) >= classes }) {
        throw SmallNetError.io("\(labels): label \(targets.bytes[i]) at index \(i) is outside the model's \(classes) classes")
    }
    return try Dataset(rawPixels: pixels.bytes, labels: targets.bytes.map { Int32($0) }, sampleShape: shape,
                       classCount: classes, classNames: model.classNames, preprocessing: model.preprocessing)
}

/// Prints the confusion matrix (rows: true class, columns: predicted class) and each class's accuracy.
func printConfusion(_ confusion: [[Int]], names: [String]) {
    let nameWidth = names.map(\.count).max() ?? 0
    let cell = Swift.max(5, String(confusion.flatMap { $0 }.max() ?? 0).count + 1)
    func right(_ s: String, _ width: Int) -> String { String(repeating: " ", count: Swift.max(0, width - s.count)) + s }
    let label = { (k: Int) in right(String(k), 3) + " " + pad(names[k], nameWidth) }
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(String(repeating: " ", count: 4 + nameWidth) + confusion.indices.map { right(String($0), cell) }.joined())
    for (k, row) in confusion.enumerated() {
        print(label(k) + row.map { right(String($0), cell) }.joined())
    }
    print("per-class accuracy:")
    for (k, row) in confusion.enumerated() {
        let total = row.reduce(0, +)
        print(label(k) + "  " + (total > 0 ? right(percent(Float(row[k]) / Float(total)), 6) + " %" : "     - (no images)"))
    }
}
