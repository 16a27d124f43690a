/// The secret that a private poll requires to see or vote: 128 random bits, written as 32 lowercase
/// hex digits on the wire. Parsed from request bytes without allocating.
public struct PollToken: Hashable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    /// Stands for a token a request carried but that is not well formed: it matches no poll.
    public static let malformed = PollToken(high: 0, low: 0)

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A new random token (never `malformed`).
    public static func random() -> PollToken {
        var generator = SystemRandomNumberGenerator()
        while true {
            let token = PollToken(high: generator.next(), low: generator.next())
            if token != .malformed { return token }
        }
    }

    /// Parses 32 hex digits; any other text is `malformed`.
    public init(parsing text: UnsafeRawBufferPointer) {
        guard text.count == 32 else {
            self = .malformed
            return
        }
        var words: (UInt64, UInt64) = (0, 0)
        for (index, byte) in text.enumerated() {
            guard let digit = HexDigits.value(byte).map(UInt64.init) else {
                self = .malformed
                return
            }
            if index < 16 { words.0 = words.0 << 4 | digit } else { words.1 = words.1 << 4 | digit }
        }
        self.init(high: words.0, low: words.1)
    }

    public init(parsing text: String) {
        var text = text
        self = text.withUTF8 { PollToken(parsing: UnsafeRawBufferPointer($0)) }
    }

    /// Compares in constant time, so response timing does not reveal how much of a guess was right.
    public func matches(_ other: PollToken) -> Bool {
        ((high ^ other.high) | (low ^ other.low)) == 0 && self != .malformed
    }

    /// The 32 lowercase hex digits, written on the stack for `body` (no allocation: a private poll's
    /// answer on the vote path shows its token).
    public func withHex<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 1) { digits in
            let alphabet: StaticString = "0123456789abcdef"
            for index in 0..<32 {
                let word = index < 16 ? high : low
                let nibble = Int(word >> UInt64(60 - 4 * (index % 16)) & 0xF)
                digits[index] = alphabet.utf8Start[nibble]
            }
            return body(UnsafeRawBufferPointer(digits))
        }
    }

    public var description: String {
        func hex(_ word: UInt64) -> String {
            let digits = String(word, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return hex(high) + hex(low)
    }

}
