// PGM images (Netpbm greyscale, binary P5 and ASCII P2, up to 8 bits) for `smallnet predict`.
import SmallNet

/// A greyscale image: `height` rows of `width` pixels, row-major, 0 = black, 255 = white.
struct GreyImage {
    let width: Int
    let height: Int
    let pixels: [UInt8]
}

/// Parses one PGM image, binary (`P5`) or ASCII (`P2`), with a maxval of at most 255.
///
/// Format (netpbm.sourceforge.net/doc/pgm.html): the magic number, then width, height and
/// maxval as decimal numbers separated by whitespace (`#` starts a comment that runs to the end
/// of the line), one whitespace character, then the pixels: one byte each for `P5`, decimal
/// numbers for `P2`. Values are scaled from 0...maxval to 0...255, so a 4-bit image reads as
/// the same picture in 8 bits.
/// - Parameter name: the file, for messages.
/// - Throws: `io` naming the file and what is wrong: another Netpbm kind, a bad header, a
///   maxval above 255, a value above maxval, missing pixels (a truncated file) or data after
///   the image.
func parsePGM(_ data: [UInt8], name: String) throws -> GreyImage {
    func bad(_ message: String) -> SmallNetError { .io("\(name): \(message)") }
    guard data.count >= 2, data[0] == UInt8(ascii: "P") else { throw bad("not a PGM image (no P2 or P5 magic number)") }
    let ascii: Bool
    switch data[1] {
    case UInt8(ascii: "5"): ascii = false
    case UInt8(ascii: "2"): ascii = true
    case UInt8(ascii: "1"), UInt8(ascii: "4"): throw bad("a PBM (black and white) image; give a greyscale PGM (P2 or P5)")
    case UInt8(ascii: "3"), UInt8(ascii: "6"): throw bad("a PPM (colour) image; give a greyscale PGM (P2 or P5)")
    default: throw bad("not a PGM image (no P2 or P5 magic number)")
    }
    var reader = NetpbmReader(data: data, position: 2)
    guard reader.skipSeparators() else { throw bad("no whitespace after the magic number") }
    guard let width = reader.number(), let height = reader.number(), let maxval = reader.number() else {
        throw bad("truncated or malformed header (expected width, height and maxval)")
    }
    guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15 else {
        throw bad("image size \(width)×\(height) is out of range (1 to 32768 pixels a side)")
    }
    guard maxval >= 1, maxval <= 255 else {
        throw bad("maxval \(maxval) is not supported (8-bit PGM only: maxval 1 to 255)")
    }
    let count = width * height
    var pixels: [UInt8] = []
    if ascii {
        // Each value takes at least one byte: a short file fails before the allocation.
        guard count <= data.count - reader.position else {
            throw bad("truncated: a \(width)×\(height) image has \(count) pixel values, the file has \(data.count - reader.position) bytes left")
        }
        pixels = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            reader.skipSeparators()
            guard reader.position < data.count else {
                throw bad("truncated: \(i) of the \(count) pixel values of a \(width)×\(height) image")
            }
            guard let value = reader.number(skippingSeparators: false) else {
                throw bad("unexpected character '\(printable(data[reader.position]))' in the pixel values")
            }
            guard value <= maxval else {
                throw bad("pixel value \(value) at row \(i / width), column \(i % width) is above maxval \(maxval)")
            }
            pixels[i] = scaled(value, maxval)
        }
        reader.skipSeparators()
        guard reader.position == data.count else { throw bad("more than the \(count) pixel values of a \(width)×\(height) image") }
    } else {
        // Exactly one whitespace character separates maxval from the pixel bytes.
        guard reader.position < data.count, isWhitespace(data[reader.position]) else {
            throw bad(reader.position < data.count ? "no whitespace between maxval and the pixels" : "truncated: no pixel data")
        }
        let start = reader.position + 1, available = data.count - start
        guard available >= count else {
            throw bad("truncated: a \(width)×\(height) image needs \(count) pixel bytes, the file has \(available)")
        }
        let rest = data[(start + count)...]
        guard rest.allSatisfy(isWhitespace) else {
            throw bad("\(rest.count) bytes after the \(width)×\(height) image (one image per file)")
        }
        pixels = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let value = Int(data[start + i])
            guard value <= maxval else {
                throw bad("pixel value \(value) at row \(i / width), column \(i % width) is above maxval \(maxval)")
            }
            pixels[i] = scaled(value, maxval)
        }
    }
    return GreyImage(width: width, height: height, pixels: pixels)
}

/// Whether `data` starts like a PGM file (a Netpbm magic number), to tell it from other inputs.
func looksLikeNetpbm(_ data: [UInt8]) -> Bool {
    data.count >= 2 && data[0] == UInt8(ascii: "P") && (UInt8(ascii: "1")...UInt8(ascii: "6")).contains(data[1])
}

/// Reads the header's decimal numbers, skipping whitespace and comments.
private struct NetpbmReader {
    let data: [UInt8]
    var position: Int

    /// Skips whitespace and `#` comments; returns whether anything was skipped.
    @discardableResult
    mutating func skipSeparators() -> Bool {
        let start = position
        while position < data.count {
            if isWhitespace(data[position]) {
                position += 1
            } else if data[position] == UInt8(ascii: "#") {
                while position < data.count, data[position] != 10, data[position] != 13 { position += 1 }
            } else {
                break
            }
        }
        return position > start
    }

    /// The next decimal number (at most 9 digits), or nil when none is there.
    mutating func number(skippingSeparators: Bool = true) -> Int? {
        if skippingSeparators { skipSeparators() }
        var value = 0, digits = 0
        while position < data.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(data[position]) {
            guard digits < 9 else { return nil }
            value = value * 10 + Int(data[position] - UInt8(ascii: "0"))
            digits += 1
            position += 1
        }
        // A number ends at whitespace, a comment or the end of the data.
        if digits == 0 || (position < data.count && !isWhitespace(data[position]) && data[position] != UInt8(ascii: "#")) {
            return nil
        }
        return value
    }
}

private func isWhitespace(_ byte: UInt8) -> Bool { byte == 32 || (9...13).contains(byte) }

private func scaled(_ value: Int, _ maxval: Int) -> UInt8 {
    UInt8(maxval == 255 ? value : (value * 255 + maxval / 2) / maxval)
}

private func printable(_ byte: UInt8) -> String {
    (32..<127).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
}
