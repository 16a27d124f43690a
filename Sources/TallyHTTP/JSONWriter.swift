import TallyBase

/// Writes JSON into a byte buffer without allocating: commas and nesting are tracked in a bit set,
/// strings are escaped as RFC 8259 requires. Texts known at compile time take the `StaticString`
/// overloads; run-time `String`s are labelled (`key(string:)`, …) so a literal never silently takes
/// the slower, escaping path.
public struct JSONWriter {
    public let buffer: ByteBuffer
    /// Bit d set: the container at depth d already has an element.
    @usableFromInline var hasElement: UInt64 = 0
    @usableFromInline var depth = 0

    public init(_ buffer: ByteBuffer) { self.buffer = buffer }

    @inlinable public mutating func object(_ body: (inout JSONWriter) -> Void) {
        open(UInt8(ascii: "{"))
        body(&self)
        close(UInt8(ascii: "}"))
    }

    @inlinable public mutating func array(_ body: (inout JSONWriter) -> Void) {
        open(UInt8(ascii: "["))
        body(&self)
        close(UInt8(ascii: "]"))
    }

    /// Starts a member of an object: its key; the value follows.
    @inlinable public mutating func key(_ name: StaticString) {
        separate()
        // `"name":` in one reservation: a dialect's answer writes dozens of keys.
        let count = name.utf8CodeUnitCount
        buffer.append(upTo: count + 3) { target in
            target.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            for index in 0..<count { target.storeBytes(of: name.utf8Start[index], toByteOffset: index + 1, as: UInt8.self) }
            target.storeBytes(of: UInt8(ascii: "\""), toByteOffset: count + 1, as: UInt8.self)
            target.storeBytes(of: UInt8(ascii: ":"), toByteOffset: count + 2, as: UInt8.self)
            return count + 3
        }
        hasElement &= ~(1 << UInt64(depth))  // the value that follows takes no comma
    }

    /// A key made of a fixed prefix and a number (`"option-12":`), without building a string.
    @inlinable public mutating func key(_ prefix: StaticString, number: Int) {
        separate()
        buffer.append(byte: UInt8(ascii: "\""))
        buffer.append(prefix)
        buffer.append(decimal: number)
        buffer.append("\":")
        hasElement &= ~(1 << UInt64(depth))
    }

    @inlinable public mutating func key(string name: String) {
        separate()
        appendString(name)
        buffer.append(byte: UInt8(ascii: ":"))
        hasElement &= ~(1 << UInt64(depth))
    }

    @inlinable public mutating func value(_ number: Int64) {
        separate()
        buffer.append(decimal: number)
    }

    @inlinable public mutating func value(_ number: Int) { value(Int64(number)) }

    /// A number written as a JSON string (ids beyond JavaScript's exact integers).
    @inlinable public mutating func value(decimalString number: UInt64) {
        separate()
        buffer.append(byte: UInt8(ascii: "\""))
        buffer.append(decimal: Int64(bitPattern: number))
        buffer.append(byte: UInt8(ascii: "\""))
    }

    @inlinable public mutating func value(_ flag: Bool) {
        separate()
        buffer.append(flag ? "true" : "false")
    }

    @inlinable public mutating func value(string text: String) {
        separate()
        appendString(text)
    }

    @inlinable public mutating func value(_ text: StaticString) {
        separate()
        appendString(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inlinable public mutating func value(bytes: UnsafeRawBufferPointer) {
        separate()
        appendString(bytes)
    }

    @inlinable public mutating func null() {
        separate()
        buffer.append("null")
    }

    /// Appends members written elsewhere (`"a":1,"b":[2]`, no braces) to the current object.
    @inlinable public mutating func members(raw: UnsafeRawBufferPointer) {
        guard !raw.isEmpty else { return }
        separate()
        buffer.append(raw)
    }

    /// Writes `value` inside a fixed JSON text: `opening` up to where the value goes (ending in a
    /// key and its colon), `closing` after it. For an envelope around every answer, which is then
    /// one copy instead of a dozen calls. Only on a fresh writer, as its whole output.
    @inlinable public mutating func enclosed(_ opening: StaticString, _ closing: StaticString, _ value: (inout JSONWriter) -> Void) {
        precondition(depth == 0 && hasElement == 0, "an enclosed value is the writer's whole output")
        buffer.append(opening)
        value(&self)
        buffer.append(closing)
    }

    @inlinable public mutating func field(_ name: StaticString, _ text: StaticString) {
        key(name)
        value(text)
    }

    @inlinable public mutating func field(_ name: StaticString, string text: String) {
        key(name)
        value(string: text)
    }

    @inlinable public mutating func field(_ name: StaticString, _ number: Int64) {
        key(name)
        value(number)
    }

    @inlinable public mutating func field(_ name: StaticString, _ number: Int) {
        key(name)
        value(number)
    }

    @inlinable public mutating func field(_ name: StaticString, _ flag: Bool) {
        key(name)
        value(flag)
    }

    // MARK: -

    @inlinable mutating func open(_ bracket: UInt8) {
        separate()
        buffer.append(byte: bracket)
        depth += 1
        precondition(depth < 64, "JSON nested too deep")
        hasElement &= ~(1 << UInt64(depth))
    }

    @inlinable mutating func close(_ bracket: UInt8) {
        buffer.append(byte: bracket)
        depth -= 1
    }

    @inlinable mutating func separate() {
        let bit: UInt64 = 1 << UInt64(depth)
        if hasElement & bit != 0 { buffer.append(byte: UInt8(ascii: ",")) }
        hasElement |= bit
    }

    @usableFromInline func appendString(_ text: String) {
        // A native string's bytes without the copy `withUTF8` makes of its receiver.
        if text.utf8.withContiguousStorageIfAvailable({ appendString(UnsafeRawBufferPointer($0)) }) == nil {
            var text = text
            text.withUTF8 { appendString(UnsafeRawBufferPointer($0)) }
        }
    }

    @usableFromInline func appendString(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(byte: UInt8(ascii: "\""))
        var runStart = 0
        for (index, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            buffer.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
            switch byte {
            case UInt8(ascii: "\""): buffer.append("\\\"")
            case UInt8(ascii: "\\"): buffer.append("\\\\")
            case 0x0A: buffer.append("\\n")
            case 0x0D: buffer.append("\\r")
            case 0x09: buffer.append("\\t")
            default:
                let hex: StaticString = "0123456789abcdef"
                buffer.append("\\u00")
                buffer.append(byte: hex.utf8Start[Int(byte >> 4)])
                buffer.append(byte: hex.utf8Start[Int(byte & 0xF)])
            }
            runStart = index + 1
        }
        buffer.append(UnsafeRawBufferPointer(rebasing: bytes[runStart...]))
        buffer.append(byte: UInt8(ascii: "\""))
    }
}
