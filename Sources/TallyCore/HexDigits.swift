/// Hexadecimal digits as the wire carries them: ballots (16 lowercase digits, as the vote script
/// writes them), poll tokens, JSON's `\u` escapes, percent-encoding. Without allocating.
public enum HexDigits {
    /// One digit's value (either case); nil if `byte` is not a digit.
    @inline(__always)
    public static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The value of up to 16 digits; nil if there are more or one is not a digit (or, with
    /// `lowercaseOnly`, an uppercase one).
    public static func value(of digits: UnsafeRawBufferPointer, lowercaseOnly: Bool = false) -> UInt64? {
        guard digits.count <= 16 else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            guard let nibble = HexDigits.value(digit), !(lowercaseOnly && digit >= UInt8(ascii: "A") && digit <= UInt8(ascii: "F")) else {
                return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }
}
