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
        guard bytes.count == 36, hyphens.allSatisfy({ bytes[$0] == UInt8(ascii: "-") }) else { return nil }
        let digits = bytes.indices.filter { !hyphens.contains($0) }.map { bytes[$0] }
        guard let high = digits[0..<16].withUnsafeBytes({ HexDigits.value(of: $0) }),
            let low = digits[16...].withUnsafeBytes({ HexDigits.value(of: $0) }),
            high & 0xF000 == 0x8000, low >> 62 == 0b10
        else { return nil }
        let poll = low & maxPollID
        return poll == 0 ? nil : poll
    }

    /// Where a UUID's text has its hyphens.
    private static let hyphens = [8, 13, 18, 23]

    private static func format(_ high: UInt64, _ low: UInt64) -> String {
        let hex = [high, low].map { word in
            let digits = String(word, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }.joined()
        var text = ""
        for (index, digit) in hex.enumerated() {
            if [8, 12, 16, 20].contains(index) { text.append("-") }
            text.append(digit)
        }
        return text
    }
}
