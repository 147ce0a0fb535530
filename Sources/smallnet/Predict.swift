// `smallnet predict`: classify raw 8-bit images (PGM files, IDX arrays) with a saved model.
import ArgumentParser
import SmallNet

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images with a saved model: PGM files (P5 or P2) and IDX image files.",
        discussion: """
            Images are raw 8-bit pixels of exactly the model's input size (no resizing); the \
            model prepares them with the preprocessing it recorded when it was trained. Prints, \
            per image, its name (the file, or file[index] inside an IDX array), the most likely \
            class and its probability.
            """)

    @Argument(help: "A checkpoint written by `smallnet train --save` (or any smallnet .safetensors file).")
    var checkpoint: String
    @Argument(help: "PGM images and IDX image files (raw or .gz).")
    var inputs: [String] = []
    @Option(help: "Threads for the kernels (default: all processors).")
    var threads: Int?
    @Option(help: "Write the predictions as JSON to this file.")
    var json: String?

    func run() throws {
        reportingErrors {
            let model = try loadCheckpoint(checkpoint)
            guard let preprocessing = model.preprocessing else {
                throw SmallNetError.badState("\(checkpoint) records no preprocessing, so raw pixels cannot be prepared for it (a checkpoint from before smallnet recorded it: set it with sn_model_set_preprocessing or the Python Model.preprocessing, and save again)")
            }
            guard model.inputShape.count == 3 else {
                throw SmallNetError.badState("\(checkpoint): the model takes inputs of shape \(model.inputShape), not images")
            }
            let images = try readRawImages(inputs, sampleShape: model.inputShape)
            if !preprocessing.isIdentity {
                let (mean, std) = modelSpaceStatistics(images.pixels, sampleShape: model.inputShape, preprocessing: preprocessing)
                if abs(mean) > 1 || std < 0.5 || std > 2 {
                    warn("after the model's preprocessing \(preprocessing.summary) these images have mean \(fixed(mean, 2)) and std \(fixed(std, 2)), far from the 0 and 1 of its training images; this model expects raw 8-bit images like the ones it was trained on (inverted colours? another kind of picture?)")
                }
            }
            let classes = model.outputShape.reduce(1, *)
            let data = try Dataset(rawPixels: images.pixels, labels: [Int32](repeating: 0, count: images.names.count),
                                   sampleShape: model.inputShape, classCount: classes, classNames: model.classNames,
                                   preprocessing: preprocessing)
            let probabilities = try Trainer.predict(model: model, data: data, pool: try threadPool(threads))
            var predictions: [JSON] = []
            let nameWidth = Swift.min(48, images.names.map(\.count).max() ?? 0)
            for (i, name) in images.names.enumerated() {
                let row = Array(probabilities[(i * classes)..<((i + 1) * classes)])
                var best = 0
                for k in 1..<classes where row[k] > row[best] { best = k }
                print("\(pad(name, nameWidth))  \(pad(model.className(best), 12)) \(fixed(row[best], 4))")
                if json != nil {
                    predictions.append(.object([
                        ("input", .string(name)),
                        ("class", .number(best)),
                        ("class_name", .string(model.className(best))),
                        ("probability", .number(row[best])),
                        ("probabilities", .array(row.map { .number($0) })),
                    ]))
                }
            }
            if let json {
                let result = JSON.object(resultHeader() + [
                    ("checkpoint", .string(checkpoint)),
                    ("preprocessing", preprocessing.json),
                    ("class_names", .array((0..<classes).map { .string(model.className($0)) })),
                    ("predictions", .array(predictions)),
                ])
                try writeTextFile(json, result.serialized(indent: 2) + "\n")
            }
        }
    }
}
