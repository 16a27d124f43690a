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

    /// Four letters at a time (three bytes), then the two or three letters of a last group.
    static func decode(_ text: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, table: [UInt8]) -> Int? {
        let groups = text.count / 4
        let rest = text.count % 4
        guard rest != 1 else { return nil }
        let produced = groups * 3 + max(0, rest - 1)
        guard produced <= output.count else { return nil }
        // The table once per call, not once per byte (each access of the global array retains it).
        return table.withUnsafeBufferPointer { table -> Int? in
            // Sextets are below 64; a byte outside the alphabet is 0xFF, whose top bits stay set here.
            var seen: UInt8 = 0
            func sextet(_ at: Int) -> UInt32 {
                let value = table[Int(text[at])]
                seen |= value
                return UInt32(value)
            }
            for group in 0..<groups {
                let at = group * 4
                let bits = sextet(at) << 18 | sextet(at + 1) << 12 | sextet(at + 2) << 6 | sextet(at + 3)
                output[group * 3] = UInt8(truncatingIfNeeded: bits >> 16)
                output[group * 3 + 1] = UInt8(truncatingIfNeeded: bits >> 8)
                output[group * 3 + 2] = UInt8(truncatingIfNeeded: bits)
            }
            var unused: UInt32 = 0  // bits past the last byte: zero in the one canonical spelling
            if rest > 1 {
                let at = groups * 4
                var bits = sextet(at) << 18 | sextet(at + 1) << 12
                if rest == 3 { bits |= sextet(at + 2) << 6 }
                output[groups * 3] = UInt8(truncatingIfNeeded: bits >> 16)
                if rest == 3 { output[groups * 3 + 1] = UInt8(truncatingIfNeeded: bits >> 8) }
                unused = rest == 2 ? bits & 0xF000 : bits & 0xC0
            }
            return seen & 0xC0 == 0 && unused == 0 ? produced : nil
        }
    }
}
