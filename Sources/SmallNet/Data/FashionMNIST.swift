// FashionMNIST: the four IDX files of a directory, checksummed, as train and test datasets.
#if canImport(Glibc)
import Glibc
#endif

/// Loader for FashionMNIST (Xiao et al., 2017): 60,000 training and 10,000 test images,
/// 28×28 grey levels, 10 classes.
public enum FashionMNIST {
    /// Where the Debian package `dataset-fashion-mnist` installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// Mean and standard deviation of the training pixels scaled to [0, 1].
    public static let pixelMean: Float = 0.2860
    public static let pixelStd: Float = 0.3530

    /// SHA-256 of the decompressed files.
    public static let checksums: [String: String] = [
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ]

    /// The directory to use: `explicit` if given, else `$SMALLNET_DATA`, else the default.
    public static func resolveDirectory(_ explicit: String?) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = getenv("SMALLNET_DATA"), env.pointee != 0 { return String(cString: env) }
        return defaultDirectory
    }

    /// Loads the training or test split from `directory`.
    ///
    /// Each file may be gzip-compressed (`NAME.gz`) or raw (`NAME`).
    /// - Parameter verify: check the SHA-256 of each decompressed file (turn off for other
    ///   IDX data laid out under the same names).
    /// - Throws: `notFound` (with how to get the data) when the directory or a file is missing;
    ///   `io` for a checksum mismatch or a malformed file, naming the file.
    public static func load(directory: String, train: Bool, verify: Bool = true) throws -> Dataset {
        var isDir = stat()
        guard stat(directory, &isDir) == 0, (isDir.st_mode & S_IFMT) == S_IFDIR else {
            throw SmallNetError.notFound("""
                FashionMNIST directory \(directory) does not exist. Install it with \
                `sudo apt-get install dataset-fashion-mnist` (files go to \(defaultDirectory)), or put the four \
                files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and \
                t10k-labels-idx1-ubyte.gz from the dataset's official mirror in a directory and give that \
                directory (the command line's --data DIR, the API's directory argument, or SMALLNET_DATA)
                """)
        }
        let prefix = train ? "train" : "t10k"
        let images = try readVerified(directory: directory, name: "\(prefix)-images-idx3-ubyte", verify: verify)
        let labels = try readVerified(directory: directory, name: "\(prefix)-labels-idx1-ubyte", verify: verify)
        return try Dataset.fromIDX(images: images.array, labels: labels.array, imagesName: images.path,
                                   labelsName: labels.path, classCount: 10, classNames: classNames,
                                   mean: pixelMean, std: pixelStd)
    }

    private static func readVerified(directory: String, name: String, verify: Bool) throws -> (path: String, array: IDXArray) {
        let gz = "\(directory)/\(name).gz", raw = "\(directory)/\(name)"
        let path = access(gz, F_OK) == 0 ? gz : raw
        guard access(path, F_OK) == 0 else {
            throw SmallNetError.notFound("\(gz) not found (nor \(raw)); the directory must hold the four FashionMNIST IDX files")
        }
        let bytes = try readFileDecompressing(path)
        if verify, let expected = checksums[name] {
            let actual = bytes.withUnsafeBufferPointer { sha256Hex($0) }
            guard actual == expected else {
                throw SmallNetError.io("\(path): SHA-256 of the decompressed data is \(actual), expected \(expected) (corrupt download? for other IDX data, turn verification off: --no-verify, or verify = 0)")
            }
        }
        return (path, try parseIDX(bytes, name: path))
    }
}
