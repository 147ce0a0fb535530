// Files the tool reads and writes: checkpoints, and raw 8-bit images (PGM files, IDX arrays) to classify.
import SmallNet
#if canImport(Glibc)
import Glibc
#endif

/// Checks that `path` names an existing regular file (or a link to one), so that a missing file,
/// an empty name or a directory get a message of their own rather than a read error.
/// - Throws: `notFound` or `io`, naming the path and `what` it should have been.
func checkInputFile(_ path: String, what: String) throws {
    guard !path.isEmpty else { throw SmallNetError.invalidArgument("empty \(what) file name") }
    var info = stat()
    guard stat(path, &info) == 0 else {
        if errno == ENOENT || errno == ENOTDIR { throw SmallNetError.notFound("\(path): no such \(what) file") }
        throw SmallNetError.io("\(path): cannot read the \(what) (\(String(cString: strerror(errno))))")
    }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        let article = "aeiouAEIOU".contains(what.first ?? "x") ? "an" : "a"
        throw SmallNetError.io("\(path) is a directory, not \(article) \(what) file")
    }
    guard access(path, R_OK) == 0 else {
        throw SmallNetError.io("\(path): cannot read the \(what) (\(String(cString: strerror(errno))))")
    }
}

/// Checks, before any work is done, that a file can be written at `path`: not a directory, in
/// an existing directory that is writable.
/// - Throws: `invalidArgument` or `io`, naming the path and `what` it is for.
func checkOutputFile(_ path: String, what: String) throws {
    guard !path.isEmpty else { throw SmallNetError.invalidArgument("empty \(what) file name") }
    var info = stat()
    if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
        throw SmallNetError.io("\(path) is a directory; give a file name for the \(what)")
    }
    let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    let folder = directory.isEmpty ? "/" : directory
    guard stat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
        throw SmallNetError.notFound("\(path): the directory \(folder) does not exist")
    }
    guard access(folder, W_OK) == 0 else {
        throw SmallNetError.io("\(path): cannot write in \(folder) (\(String(cString: strerror(errno))))")
    }
}

/// Loads a `.safetensors` checkpoint written by smallnet, in eval mode.
func loadCheckpoint(_ path: String) throws -> Sequential {
    try checkInputFile(path, what: "checkpoint")
    return try Checkpoint.load(from: path)
}

/// Raw 8-bit images gathered from the command line, each named for messages and output.
struct RawImages {
    /// One per image: the file, or `file[index]` for an image inside an IDX array.
    var names: [String] = []
    /// The images one after the other, C·H·W bytes each.
    var pixels: [UInt8] = []
}

/// Reads every input as raw 8-bit images of `sampleShape` (C, H, W): PGM files (P5 or P2, one
/// image each; greyscale models only) and IDX arrays of unsigned bytes, raw or gzip-compressed,
/// shaped (N, H, W), (H, W) or (N, C, H, W).
/// - Throws: `invalidArgument` for an empty list; `notFound`/`io` naming the file for a missing,
///   unreadable or malformed file, another kind of file, or images of another size.
func readRawImages(_ paths: [String], sampleShape: [Int]) throws -> RawImages {
    guard !paths.isEmpty else {
        throw SmallNetError.invalidArgument("no input images given (PGM files or IDX image files)")
    }
    let channels = sampleShape[0], height = sampleShape[1], width = sampleShape[2]
    var images = RawImages()
    for path in paths {
        try checkInputFile(path, what: "image")
        let data = try readFileDecompressing(path)
        guard !data.isEmpty else { throw SmallNetError.io("\(path): empty file") }
        if looksLikeNetpbm(data) {
            let image = try parsePGM(data, name: path)
            guard channels == 1 else {
                throw SmallNetError.shapeMismatch("\(path): a PGM image has one channel; this model takes \(channels)-channel images (give an IDX array)")
            }
            guard image.height == height, image.width == width else {
                throw SmallNetError.shapeMismatch("\(path): the image is \(image.width)×\(image.height) pixels (width×height); this model takes \(width)×\(height) images only (resize it first)")
            }
            images.names.append(path)
            images.pixels += image.pixels
        } else if data.count >= 2, data[0] == 0, data[1] == 0 {
            let array = try parseIDX(data, name: path)
            let dims = array.dimensions
            let shape: [Int]   // (N, C, H, W)
            switch dims.count {
            case 2: shape = [1, 1] + dims
            case 3: shape = [dims[0], 1, dims[1], dims[2]]
            case 4: shape = dims
            default:
                throw SmallNetError.io("\(path): an IDX array of shape \(dims) is not images (expected (N, H, W), (H, W) or (N, C, H, W); a labels file?)")
            }
            guard Array(shape[1...]) == sampleShape else {
                let what = shape[1] == 1 ? "\(shape[3])×\(shape[2]) pixels (width×height)" : "\(shape[1]) channels of \(shape[3])×\(shape[2]) pixels"
                let wanted = channels == 1 ? "\(width)×\(height) images only" : "\(channels) channels of \(width)×\(height) pixels only"
                throw SmallNetError.shapeMismatch("\(path): the images are \(what); this model takes \(wanted)")
            }
            guard shape[0] > 0 else { throw SmallNetError.io("\(path): the IDX array holds no images") }
            let single = dims.count == 2
            for i in 0..<shape[0] { images.names.append(single ? path : "\(path)[\(i)]") }
            images.pixels += array.bytes
        } else {
            throw SmallNetError.io("\(path): not a PGM image (P5 or P2) or an IDX file of unsigned bytes")
        }
    }
    return images
}

/// Mean and standard deviation over all values of raw 8-bit images of `sampleShape` (C, H, W)
/// after `preprocessing`, as the model sees them: `x_model = (x·pixelScale − mean[c]) / std[c]`.
func modelSpaceStatistics(_ pixels: [UInt8], sampleShape: [Int], preprocessing p: Preprocessing) -> (mean: Double, std: Double) {
    // A histogram per channel keeps the sums exact and the pass cheap whatever the number of images.
    let channels = sampleShape[0], plane = sampleShape[1] * sampleShape[2]
    var histograms = [[Int]](repeating: [Int](repeating: 0, count: 256), count: channels)
    for (i, v) in pixels.enumerated() { histograms[(i / plane) % channels][Int(v)] += 1 }
    var count = 0.0, sum = 0.0, squares = 0.0
    for (c, histogram) in histograms.enumerated() {
        let mean = Double(p.mean[p.mean.count == 1 ? 0 : c]), std = Double(p.std[p.std.count == 1 ? 0 : c])
        for (value, n) in histogram.enumerated() where n > 0 {
            let x = (Double(value) * Double(p.pixelScale) - mean) / std, k = Double(n)
            count += k; sum += k * x; squares += k * x * x
        }
    }
    guard count > 0 else { return (0, 0) }
    let mean = sum / count
    return (mean, Swift.max(squares / count - mean * mean, 0).squareRoot())
}
