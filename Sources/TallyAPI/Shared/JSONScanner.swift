import TallyCore

/// A minimal pull scanner for the small JSON bodies on the vote path (`{"choices":[0,2]}`): no
/// allocation, no Foundation, a nesting limit, and every malformed input is a plain `false`/nil —
/// never a crash. Strict RFC 8259: what it accepts, Foundation's parser accepts too, with the same
/// values (a differential fuzz test holds it to that). Admin bodies use Foundation's parser.
public struct JSONScanner {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    public static let maxDepth = 32

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Reads an object, calling `member` with each key (raw bytes, escapes not decoded: compare
    /// with `keyIs`) and the scanner positioned at its value; `member` must consume the value (read
    /// or `skipValue`) and return false to stop with an error. True when the whole body was one
    /// well-formed object.
    public mutating func readObject(_ member: (UnsafeRawBufferPointer, inout JSONScanner) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return atEnd() }
        repeat {
            guard let key = readStringBytes(), consume(UInt8(ascii: ":")) else { return false }
            guard member(key, &self) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}")) && atEnd()
    }

    /// Reads an array of integers, passing each to `element` (false from it stops with an error).
    public mutating func readIntegerArray(_ element: (Int64) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "[")) else { return false }
        if consume(UInt8(ascii: "]")) { return true }
        repeat {
            guard let value = readInteger(), element(value) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]"))
    }

    /// Reads an array, calling `element` with the scanner at each element (it must consume it and
    /// return false to stop with an error).
    public mutating func readArray(_ element: (inout JSONScanner) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "[")) else { return false }
        if consume(UInt8(ascii: "]")) { return true }
        repeat {
            guard element(&self) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]"))
    }

    /// Whether the next value is a string.
    public mutating func nextIsString() -> Bool {
        skipWhitespace()
        return peek() == UInt8(ascii: "\"")
    }

    /// An integer as JSON writes one: `-?(0|[1-9][0-9]*)`. A number with a fraction or exponent is
    /// nil (valid JSON, but not an option number). Magnitudes beyond 18 digits saturate (a huge
    /// option number is out of range, not malformed).
    public mutating func readInteger() -> Int64? {
        skipWhitespace()
        let negative = peek() == UInt8(ascii: "-")
        if negative { position += 1 }
        guard let first = peekDigit() else { return nil }
        var value: Int64 = 0
        if first == 0 {
            position += 1  // a leading zero is the whole integer part
        } else {
            var digits = 0
            while let digit = peekDigit() {
                value = digits < 18 ? value * 10 + Int64(digit) : Int64.max
                digits += 1
                position += 1
            }
        }
        guard !startsFractionOrExponent() else { return nil }
        return negative ? -value : value
    }

    /// A string's raw bytes between the quotes, escape sequences left as they are. Validated: only
    /// JSON's escapes (a `\u` surrogate only as a high-low pair), no control characters, UTF-8.
    public mutating func readStringBytes() -> UnsafeRawBufferPointer? {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { return nil }
        position += 1
        let start = position
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "\""):
                let end = position
                position += 1
                return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            case UInt8(ascii: "\\"):
                guard skipEscape() else { return nil }
            case 0..<0x20:
                return nil
            case 0x80...:
                guard skipMultibyteCharacter() else { return nil }
            default:
                position += 1
            }
        }
        return nil
    }

    /// Skips any JSON value.
    public mutating func skipValue() -> Bool { skipValue(depth: 0) }

    private mutating func skipValue(depth: Int) -> Bool {
        guard depth < JSONScanner.maxDepth else { return false }
        skipWhitespace()
        guard let first = peek() else { return false }
        switch first {
        case UInt8(ascii: "\""):
            return readStringBytes() != nil
        case UInt8(ascii: "{"):
            position += 1
            if consume(UInt8(ascii: "}")) { return true }
            repeat {
                guard readStringBytes() != nil, consume(UInt8(ascii: ":")), skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            position += 1
            if consume(UInt8(ascii: "]")) { return true }
            repeat {
                guard skipValue(depth: depth + 1) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "]"))
        case UInt8(ascii: "t"): return consumeWord("true")
        case UInt8(ascii: "f"): return consumeWord("false")
        case UInt8(ascii: "n"): return consumeWord("null")
        default: return skipNumber()
        }
    }

    /// Whether a key as `readObject` passes it (escapes still in it) is `name`, an ASCII name.
    public static func keyIs(_ key: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        let expected = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var index = 0
        var matched = 0
        while index < key.count {
            var byte = key[index]
            index += 1
            if byte == UInt8(ascii: "\\") {
                // Complete and valid: readStringBytes checked it.
                let escaped = key[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "u"):
                    let unit = UInt16(HexDigits.value(of: UnsafeRawBufferPointer(rebasing: key[index..<(index + 4)]))!)
                    index += 4
                    guard unit < 0x80 else { return false }
                    byte = UInt8(unit)
                case UInt8(ascii: "b"): byte = 0x08
                case UInt8(ascii: "f"): byte = 0x0C
                case UInt8(ascii: "n"): byte = 0x0A
                case UInt8(ascii: "r"): byte = 0x0D
                case UInt8(ascii: "t"): byte = 0x09
                default: byte = escaped  // " \ /
                }
            }
            guard matched < expected.count, expected[matched] == byte else { return false }
            matched += 1
        }
        return matched == expected.count
    }

    // MARK: -

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private func peekDigit() -> UInt8? {
        guard let byte = peek(), byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
        return byte - UInt8(ascii: "0")
    }

    private func startsFractionOrExponent() -> Bool {
        peek() == UInt8(ascii: ".") || peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E")
    }

    /// Digits from here; how many.
    private mutating func skipDigits() -> Int {
        let start = position
        while peekDigit() != nil { position += 1 }
        return position - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func skipNumber() -> Bool {
        if peek() == UInt8(ascii: "-") { position += 1 }
        guard let first = peekDigit() else { return false }
        if first == 0 { position += 1 } else { _ = skipDigits() }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard skipDigits() > 0 else { return false }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard skipDigits() > 0 else { return false }
        }
        return true
    }

    /// An escape sequence, from its backslash.
    private mutating func skipEscape() -> Bool {
        position += 1
        guard let escaped = peek() else { return false }
        position += 1
        switch escaped {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return true
        case UInt8(ascii: "u"):
            guard let unit = readHex4() else { return false }
            switch unit {
            case 0xD800..<0xDC00:  // a high surrogate: its low half must follow
                guard peek() == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                    return false
                }
                position += 2
                guard let low = readHex4() else { return false }
                return (0xDC00..<0xE000).contains(low)
            case 0xDC00..<0xE000: return false  // a low surrogate alone
            default: return true
            }
        default:
            return false
        }
    }

    private mutating func readHex4() -> UInt16? {
        guard bytes.count - position >= 4,
            let unit = HexDigits.value(of: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + 4)])).map(UInt16.init)
        else { return nil }
        position += 4
        return unit
    }


    /// One well-formed UTF-8 character of 2 to 4 bytes (no overlong form, no surrogate, at most
    /// U+10FFFF), as the standard library's decoder judges it.
    private mutating func skipMultibyteCharacter() -> Bool {
        var rest = UnsafeRawBufferPointer(rebasing: bytes[position...]).makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        guard case .valid(let character) = parser.parseScalar(from: &rest) else { return false }
        position += character.count
        return true
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard peek() == byte else { return false }
        position += 1
        return true
    }

    private mutating func consumeWord(_ word: StaticString) -> Bool {
        let text = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - position >= text.count,
            UnsafeRawBufferPointer(rebasing: bytes[position..<(position + text.count)]).elementsEqual(text)
        else { return false }
        position += text.count
        return true
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    private mutating func atEnd() -> Bool {
        skipWhitespace()
        return position == bytes.count
    }
}
