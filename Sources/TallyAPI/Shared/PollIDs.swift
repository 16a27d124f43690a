import TallyCore
import TallyHTTP

/// Poll ids on the wire: decimal strings (JSON numbers above 2^53 lose precision in JavaScript).
public enum PollIDs {
    /// A new random id in 1 ..< 2^53, so it is exact as a JavaScript number too.
    public static func random() -> PollID {
        PollID.random(in: 1..<(1 << 53))
    }

    public static func parse(_ text: UnsafeRawBufferPointer) -> PollID? {
        guard let id = ASCII.parseUInt64(text), id != 0 else { return nil }
        return id
    }
}
