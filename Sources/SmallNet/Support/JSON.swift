// A minimal JSON value and writer (no Foundation), for results files and checkpoint metadata.

/// A JSON value. Object keys keep their insertion order.
public indirect enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool { a.serialized() == b.serialized() }

    /// Compact JSON text, or indented by `indent` spaces per level when `indent` > 0.
    public func serialized(indent: Int = 0) -> String {
        var out = ""
        write(into: &out, indent: indent, level: 0)
        return out
    }

    private func write(into out: inout String, indent: Int, level: Int) {
        let newline = indent > 0 ? "\n" : ""
        let pad = { (l: Int) in String(repeating: " ", count: indent * l) }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let x): out += JSON.format(x)
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            // Arrays of numbers stay on one line.
            let flat = indent == 0 || items.allSatisfy { if case .number = $0 { return true }; return false }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += flat ? (indent > 0 ? ", " : ",") : "," }
                if !flat { out += newline + pad(level + 1) }
                item.write(into: &out, indent: flat ? 0 : indent, level: level + 1)
            }
            out += flat ? "]" : newline + pad(level) + "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                out += newline + pad(level + 1)
                JSON.quote(key, into: &out)
                out += indent > 0 ? ": " : ":"
                value.write(into: &out, indent: indent, level: level + 1)
            }
            out += newline + pad(level) + "}"
        }
    }

    /// Integers print without a fraction; other numbers as the shortest decimal that reads back
    /// as the same Double (`1e-05` style exponents are valid JSON); NaN and infinities (not JSON)
    /// print as null.
    static func format(_ x: Double) -> String {
        guard x.isFinite else { return "null" }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

extension JSON {
    /// A Float as the shortest decimal that reads back as the same Float: a setting of 0.05 prints
    /// `0.05`, not the widened Double's `0.05000000074505806`. NaN and infinities print as null.
    public static func number(_ x: Float) -> JSON {
        guard x.isFinite else { return .number(Double(x)) }
        return .number(Double(x.description) ?? Double(x))
    }
    public static func number(_ x: Int) -> JSON { .number(Double(x)) }
}
