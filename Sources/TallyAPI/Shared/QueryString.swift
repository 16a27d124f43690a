import Foundation
import TallyHTTP

/// Reads `name=value` pairs of a query string without allocating (values still percent-encoded).
public enum QueryString {
    public static func value(_ name: StaticString, in query: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var rest = query
        while !rest.isEmpty {
            let end = rest.firstIndex(of: UInt8(ascii: "&")) ?? rest.count
            let pair = UnsafeRawBufferPointer(rebasing: rest[0..<end])
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.count
            if ASCII.equals(UnsafeRawBufferPointer(rebasing: pair[0..<equals]), name) {
                return UnsafeRawBufferPointer(rebasing: pair[min(equals + 1, pair.count)...])
            }
            rest = UnsafeRawBufferPointer(rebasing: rest[min(end + 1, rest.count)...])
        }
        return nil
    }

    /// Every pair, percent-decoded (admin path: allocates).
    public static func pairs(_ query: UnsafeRawBufferPointer) -> [(String, String)] {
        String(decoding: query, as: UTF8.self).split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in (text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding) ?? String(text) }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }
}
