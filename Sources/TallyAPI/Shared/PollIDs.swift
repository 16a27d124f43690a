import TallyCore
import TallyHTTP

/// Poll ids on the wire: decimal strings (JSON numbers above 2^53 lose precision in JavaScript).
/// New ids come from Redis (INCR), unique across daemons.
public enum PollIDs {
    public static func parse(_ text: UnsafeRawBufferPointer) -> PollID? {
        guard let id = ASCII.parseUInt64(text), id != 0 else { return nil }
        return id
    }
}
