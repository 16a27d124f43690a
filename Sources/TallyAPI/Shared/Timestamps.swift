import Foundation
import TallyCore
import TallyHTTP

/// RFC 3339 timestamps in UTC with milliseconds, e.g. `2026-11-23T09:00:00.000Z`.
public enum Timestamps {
    /// The times Tally accepts: from the Unix epoch to the end of year 9999.
    public static let range: ClosedRange<Timestamp> = 0...253_402_300_799_999_999

    /// Writes a JSON string for `time` without allocating.
    public static func writeJSON(_ time: Timestamp, to json: inout JSONWriter) {
        let time = min(max(time, range.lowerBound), range.upperBound)
        var seconds = time_t(time / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { text in
            var length = 0
            func digits(_ value: Int, _ count: Int) {
                var rest = value
                for index in stride(from: count - 1, through: 0, by: -1) {
                    text[length + index] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
                length += count
            }
            func literal(_ character: Unicode.Scalar) {
                text[length] = UInt8(ascii: character)
                length += 1
            }
            digits(Int(parts.tm_year) + 1900, 4); literal("-"); digits(Int(parts.tm_mon) + 1, 2); literal("-")
            digits(Int(parts.tm_mday), 2); literal("T"); digits(Int(parts.tm_hour), 2); literal(":")
            digits(Int(parts.tm_min), 2); literal(":"); digits(Int(parts.tm_sec), 2); literal(".")
            digits(Int(time / 1_000 % 1_000), 3); literal("Z")
            json.value(bytes: UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: text[0..<length])))
        }
    }

    /// Parses RFC 3339 (with or without fractional seconds, any offset) within `range`. Admin path.
    public static func parse(_ text: String) -> Timestamp? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var date = formatter.date(from: text)
        if date == nil {
            formatter.formatOptions = [.withInternetDateTime]
            date = formatter.date(from: text)
        }
        // Checked as a Double first: converting an out-of-range Double to Int64 would trap.
        guard let microseconds = date.map({ ($0.timeIntervalSince1970 * 1_000_000).rounded() }),
            microseconds >= Double(range.lowerBound), microseconds <= Double(range.upperBound)
        else { return nil }
        return Timestamp(microseconds)
    }

    public static func format(_ time: Timestamp) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(time) / 1_000_000))
    }
}
