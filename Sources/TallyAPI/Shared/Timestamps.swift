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

    /// Parses an RFC 3339 `date-time` strictly (§5.6): `YYYY-MM-DDTHH:MM:SS`, optional fractional
    /// seconds (kept to the microsecond), then `Z` or an offset `±HH:MM`; a real calendar date,
    /// hours 00–23, minutes and seconds 00–59 (a leap second's `:60` is refused: Unix time has
    /// none), offsets within ±23:59; nil outside `range`. Admin path.
    public static func parse(_ text: String) -> Timestamp? {
        let bytes = Array(text.utf8)
        func number(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[at..<(at + count)] {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func byte(_ at: Int, _ allowed: String) -> Bool { at < bytes.count && allowed.utf8.contains(bytes[at]) }
        guard let year = number(0, 4), byte(4, "-"), let month = number(5, 2), byte(7, "-"), let day = number(8, 2),
            byte(10, "Tt"), let hour = number(11, 2), byte(13, ":"), let minute = number(14, 2), byte(16, ":"),
            let second = number(17, 2), (1...12).contains(month), (1...daysIn(month, of: year)).contains(day),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var at = 19
        var microseconds = 0
        if byte(at, ".") {
            at += 1
            let digits = bytes[at...].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
            guard digits > 0 else { return nil }
            for index in 0..<6 { microseconds = microseconds * 10 + (index < digits ? Int(bytes[at + index] - UInt8(ascii: "0")) : 0) }
            at += digits
        }
        var offsetSeconds = 0
        if byte(at, "Zz") {
            at += 1
        } else if byte(at, "+-"), let offsetHours = number(at + 1, 2), byte(at + 3, ":"), let offsetMinutes = number(at + 4, 2),
            offsetHours <= 23, offsetMinutes <= 59
        {
            offsetSeconds = (offsetHours * 3_600 + offsetMinutes * 60) * (bytes[at] == UInt8(ascii: "-") ? -1 : 1)
            at += 6
        } else {
            return nil
        }
        guard at == bytes.count else { return nil }
        let seconds = daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second - offsetSeconds
        let time = Int64(seconds) * 1_000_000 + Int64(microseconds)
        return range.contains(time) ? time : nil
    }

    private static func daysIn(_ month: Int, of year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (negative before it).
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        // Counted from March, so a leap day ends its year: days_from_civil in H. Hinnant's
        // "chrono-Compatible Low-Level Date Algorithms".
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public static func format(_ time: Timestamp) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(time) / 1_000_000))
    }
}
