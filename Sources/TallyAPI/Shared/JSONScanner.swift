/// A minimal pull scanner for the small JSON bodies on the vote path (`{"choices":[0,2]}`): no
/// allocation, no Foundation, a nesting limit, and every malformed input is a plain `false`/nil —
/// never a crash (fuzzed in tests). Admin bodies use Foundation's full parser instead.
public struct JSONScanner {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    public static let maxDepth = 32

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Reads an object, calling `member` with each key (raw bytes, escapes not decoded) and the
    /// scanner positioned at its value; `member` must consume the value (read or `skipValue`) and
    /// return false to stop with an error. True when the whole body was one well-formed object.
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

    /// An integer: optional minus and digits, no fraction or exponent. Magnitudes beyond 18 digits
    /// saturate (a huge option number is out of range, not malformed).
    public mutating func readInteger() -> Int64? {
        skipWhitespace()
        var negative = false
        if peek() == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        var digits = 0
        var value: Int64 = 0
        while let byte = peek(), byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
            value = digits < 18 ? value * 10 + Int64(byte - UInt8(ascii: "0")) : Int64.max
            digits += 1
            position += 1
        }
        guard digits > 0 else { return nil }
        if let byte = peek(), byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { return nil }
        return negative ? -value : value
    }

    /// A string's raw bytes between the quotes (escape sequences left as they are, but validated
    /// enough to find the closing quote).
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
                position += 2
            case 0..<0x20:
                return nil
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
        default:
            // A number: sign, digits, fraction, exponent, loosely.
            let start = position
            while let byte = peek(), (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
            {
                position += 1
            }
            return position > start
        }
    }

    public static func keyIs(_ key: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        key.elementsEqual(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    // MARK: -

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

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
