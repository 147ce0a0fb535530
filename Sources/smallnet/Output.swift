// Console output: progress lines (one updating line on a terminal), number formatting, result headers.
import SmallNet
#if canImport(Glibc)
import Glibc
#endif

/// Prints training progress: an updating line on a terminal, one plain line per epoch otherwise.
final class ProgressPrinter {
    let evaluationName: String
    let terminal = isatty(STDOUT_FILENO) != 0
    private var lastDraw = 0.0

    init(evaluationName: String) { self.evaluationName = evaluationName }

    /// The progress callback: redraws at most ten times a second; never asks to stop.
    func step(_ p: TrainingProgress) -> Bool {
        guard terminal else { return true }
        let now = monotonicSeconds()
        if now - lastDraw > 0.1 || p.step == p.stepsPerEpoch {
            lastDraw = now
            let width = 24, filled = width * p.step / p.stepsPerEpoch
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            print("\r  epoch \(p.epoch)/\(p.epochs) [\(bar)] loss \(fixed(p.loss, 4))  \(Int(p.imagesPerSecond)) img/s ", terminator: "")
            fflush(stdout)
        }
        return true
    }

    /// Prints one finished epoch as a plain line (clearing the progress line first).
    func epoch(_ r: EpochRecord) -> Bool {
        if terminal { print("\r" + String(repeating: " ", count: 78) + "\r", terminator: "") }
        let eval = r.evalAccuracy.map { " \(evaluationName) acc \(percent($0)) %, \(evaluationName) loss \(fixed(r.evalLoss ?? 0, 4))," } ?? ""
        print("  epoch \(pad(String(r.epoch), 3)) train loss \(fixed(r.trainLoss, 4)), train acc \(percent(r.trainAccuracy)) %,\(eval) lr \(fixed(r.learningRate, 5)), \(fixed(r.seconds, 1)) s")
        fflush(stdout)
        return true
    }
}

func fixed(_ x: Double, _ digits: Int) -> String {
    // Beyond 1e12 (and for NaN and infinities) the shortest form: whole digits would not fit an Int.
    guard x.isFinite, abs(x) < 1e12 else { return "\(x)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let v = (abs(x) * scale).rounded()
    let whole = Int(v / scale), frac = Int(v - Double(whole) * scale)
    let fracText = digits > 0 ? "." + String(repeating: "0", count: digits - String(frac).count) + String(frac) : ""
    return (x < 0 && v != 0 ? "-" : "") + String(whole) + fracText
}

func fixed(_ x: Float, _ digits: Int) -> String { fixed(Double(x), digits) }
func percent(_ x: Float) -> String { fixed(Double(x) * 100, 2) }
func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }

/// The members every JSON result file starts with: the tool's version and the layout's version
/// (raised when a key changes meaning or goes away; new keys may appear at any time).
func resultHeader() -> [(String, JSON)] {
    [("smallnet_version", .string(SmallNetVersion.string)), ("schema_version", .number(1))]
}

/// Prints a warning on stderr as one line.
func warn(_ message: String) {
    fputs("smallnet: warning: \(message)\n", stderr)
}
