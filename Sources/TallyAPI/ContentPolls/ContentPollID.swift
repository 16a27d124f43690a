import TallyCore

/// A content poll's id: a UUID of version 8 (RFC 9562's version for custom layouts) whose last 62
/// bits are the engine poll's id and whose other bits are random. Finding the poll of a UUID is
/// therefore a registry lookup (O(1), the same on every daemon and after a restart) with no table
/// to keep; the whole UUID is then compared with the poll's `content.id` label, so a UUID made up
/// around another poll's id finds nothing.
enum ContentPollID {
    /// The largest engine id that fits: Redis' INCR would take a century to pass it at a billion
    /// polls a second.
    static let maxPollID: PollID = (1 << 62) - 1

    /// A new UUID for engine poll `poll` (lowercase, as UUIDs are written). A poll past
    /// `maxPollID` would get a UUID that finds nothing.
    static func make(for poll: PollID) -> String {
        var random = SystemRandomNumberGenerator()
        let high = (random.next() as UInt64) & ~0xF000 | 0x8000  // the version digit (13th): 8
        let low = 0b10 << 62 | poll & maxPollID  // the variant bits: 10
        return format(high, low)
    }

    /// The engine id inside a UUID Tally made (any case); nil for any other text.
    static func pollID(_ text: String) -> PollID? {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        var digits = 0
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            guard let value = hexValue(byte) else { return nil }
            if digits < 16 { high = high << 4 | value } else { low = low << 4 | value }
            digits += 1
        }
        guard high & 0xF000 == 0x8000, low >> 62 == 0b10 else { return nil }
        let poll = low & maxPollID
        return poll == 0 ? nil : poll
    }

    private static func format(_ high: UInt64, _ low: UInt64) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for (index, word) in [(0, high), (16, low)] {
            for shift in stride(from: 60, through: 0, by: -4) {
                let digit = index + (60 - shift) / 4
                if [8, 12, 16, 20].contains(digit) { text.append(UInt8(ascii: "-")) }
                text.append(hex[Int(word >> UInt64(shift) & 0xF)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt64? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt64(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
