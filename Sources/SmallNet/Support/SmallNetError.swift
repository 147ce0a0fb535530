// The one error type the engine throws; each case maps to a C status code.

/// An error thrown by the engine. Every case carries a message that says what was wrong.
public enum SmallNetError: Error, Equatable, CustomStringConvertible {
    /// An argument is out of range or otherwise invalid.
    case invalidArgument(String)
    /// Tensor or buffer shapes do not fit together.
    case shapeMismatch(String)
    /// A file could not be read or written, or its contents are malformed.
    case io(String)
    /// A call came in the wrong order or on an object in the wrong state.
    case badState(String)
    /// A named thing (parameter, file, directory) does not exist.
    case notFound(String)
    /// A request would need more memory than smallnet allows itself (or than is available).
    case outOfMemory(String)
    /// Training diverged (the loss became NaN or infinite).
    case diverged(String)

    public var message: String {
        switch self {
        case .invalidArgument(let m), .shapeMismatch(let m), .io(let m),
             .badState(let m), .notFound(let m), .outOfMemory(let m), .diverged(let m):
            return m
        }
    }

    public var description: String { message }
}

/// Throws `invalidArgument(message())` unless `condition` holds.
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw SmallNetError.invalidArgument(message()) }
}
