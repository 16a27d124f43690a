import TallyCore
import TallyHTTP

/// `application/x-www-form-urlencoded` bodies (and query strings), read without allocating: names
/// are compared with their percent-encoding decoded on the fly, values decoded when read.
public enum FormBody {
    /// Calls `pair` with each name and value, still encoded; false from it stops. False when
    /// `pair` stopped.
    public static func forEach(_ bytes: UnsafeRawBufferPointer, _ pair: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool) -> Bool {
        var rest = bytes
        while !rest.isEmpty {
            let end = rest.firstIndex(of: UInt8(ascii: "&")) ?? rest.count
            let part = UnsafeRawBufferPointer(rebasing: rest[0..<end])
            if !part.isEmpty {
                let equals = part.firstIndex(of: UInt8(ascii: "=")) ?? part.count
                let value = UnsafeRawBufferPointer(rebasing: part[min(equals + 1, part.count)...])
                guard pair(UnsafeRawBufferPointer(rebasing: part[0..<equals]), value) else { return false }
            }
            rest = UnsafeRawBufferPointer(rebasing: rest[min(end + 1, rest.count)...])
        }
        return true
    }

    /// Whether an encoded name decodes to `name` (`+` is a space, `%XX` a byte).
    public static func nameIs(_ encoded: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        var iterator = Decoding(encoded)
        var index = 0
        let wanted = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        while let byte = iterator.next() {
            guard index < wanted.count, byte == wanted[index] else { return false }
            index += 1
        }
        return !iterator.malformed && index == wanted.count
    }

    /// An encoded value that is an optional `-` and 1-18 decimal digits, as a number; nil otherwise.
    public static func integer(_ encoded: UnsafeRawBufferPointer) -> Int64? {
        var iterator = Decoding(encoded)
        var value: Int64 = 0
        var digits = 0
        var negative = false
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "-") && digits == 0 && !negative {
                negative = true
                continue
            }
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"), digits < 18 else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            digits += 1
        }
        guard digits > 0, !iterator.malformed else { return nil }
        return negative ? -value : value
    }

    /// An encoded value as text (admin path); nil if its encoding or UTF-8 is broken.
    public static func text(_ encoded: UnsafeRawBufferPointer) -> String? {
        var iterator = Decoding(encoded)
        var bytes: [UInt8] = []
        while let byte = iterator.next() { bytes.append(byte) }
        guard !iterator.malformed else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The decoded bytes of an encoded name or value.
    struct Decoding: IteratorProtocol {
        private let bytes: UnsafeRawBufferPointer
        private var position = 0
        /// A `%` not followed by two hex digits was met (the iteration stopped there).
        private(set) var malformed = false

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func next() -> UInt8? {
            guard position < bytes.count, !malformed else { return nil }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "+"): return UInt8(ascii: " ")
            case UInt8(ascii: "%"):
                guard position + 1 < bytes.count, let high = HexDigits.value(bytes[position]), let low = HexDigits.value(bytes[position + 1]) else {
                    malformed = true
                    return nil
                }
                position += 2
                return high << 4 | low
            default: return byte
            }
        }
    }
}
