/// base64url (RFC 4648 §5, no padding), decoded without allocating.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        var iterator = bytes.makeIterator()
        while let a = iterator.next() {
            let b = iterator.next()
            let c = iterator.next()
            out.append(alphabet[Int(a >> 2)])
            out.append(alphabet[Int((a & 0x03) << 4 | (b ?? 0) >> 4)])
            if let b { out.append(alphabet[Int((b & 0x0F) << 2 | (c ?? 0) >> 6)]) }
            if let c { out.append(alphabet[Int(c & 0x3F)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes into `output`; returns the byte count, or nil if the text is not canonical base64url
    /// (RFC 4648 §3.5: the bits past the last byte must be zero, so one value has one spelling) or
    /// does not fit.
    static func decode(_ text: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        Base64Decoding.decode(text, into: output, table: decodeTable)
    }

    /// Sextet by byte; 0xFF for bytes outside the alphabet (a table: decoding sits on the vote path).
    private static let decodeTable = Base64Decoding.table(alphabet)
}

/// Standard base64 (RFC 4648 §4), padded or not: HTTP Basic credentials (RFC 7617).
enum Base64Standard {
    private static let decodeTable = Base64Decoding.table(
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8))

    /// Decodes into `output`; the byte count, or nil if the text is not canonical base64 or does
    /// not fit.
    static func decode(_ text: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        var end = text.count
        if text.count % 4 == 0 {
            while end > 0 && text.count - end < 2 && text[end - 1] == UInt8(ascii: "=") { end -= 1 }
        }
        return Base64Decoding.decode(UnsafeRawBufferPointer(rebasing: text[..<end]), into: output, table: decodeTable)
    }
}

/// The decoding both alphabets share.
private enum Base64Decoding {
    static func table(_ alphabet: [UInt8]) -> [UInt8] {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }

    static func decode(_ text: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, table: [UInt8]) -> Int? {
        guard text.count % 4 != 1 else { return nil }
        // The table once per call, not once per byte (each access of the global array retains it).
        return table.withUnsafeBufferPointer { table -> Int? in
            var count = 0
            var accumulator: UInt32 = 0
            var bits = 0
            for byte in text {
                let value = table[Int(byte)]
                guard value != 0xFF else { return nil }
                accumulator = accumulator << 6 | UInt32(value)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    guard count < output.count else { return nil }
                    output[count] = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
                    count += 1
                }
            }
            return accumulator & (1 << UInt32(bits) - 1) == 0 ? count : nil
        }
    }
}
