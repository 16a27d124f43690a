/// The bits of HTTP/1.1 syntax that http-parser 2.9 (lenient in Debian's build) lets through and
/// Tally checks itself.
enum HTTPSyntax {
    /// RFC 9110 §5.6.2 `tchar`: what a method and a field name are made of. A space or tab before
    /// a field's colon (`Host : x`), which http-parser accepts, is not one (RFC 9112 §5.1: 400).
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    static func isToken(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(isTokenCharacter)
    }

    /// Whether the request http-parser refused for its method, at `failedAt` in `bytes`, has a
    /// well-formed request line (`token SP target SP HTTP/1.x CRLF`): then the method is merely
    /// unknown (501); anything else (noise, a TLS handshake) is a malformed request (400). The
    /// method began before `failedAt`, where http-parser was still matching it against its own.
    static func isRequestLineWithUnknownMethod(_ bytes: UnsafeRawBufferPointer, failedAt: Int) -> Bool {
        var start = min(failedAt, bytes.count)
        while start > 0 && failedAt - start < 20 && isTokenCharacter(bytes[start - 1]) { start -= 1 }
        guard let lineEnd = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else { return false }
        var line = UnsafeRawBufferPointer(rebasing: bytes[start..<lineEnd])
        if line.last == UInt8(ascii: "\r") { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count <= 20, isToken(UnsafeRawBufferPointer(rebasing: parts[0])),
            !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7f })
        else { return false }
        let version = Array(parts[2])
        return version.count == 8 && version.starts(with: Array("HTTP/1.".utf8)) && (version[7] == UInt8(ascii: "0") || version[7] == UInt8(ascii: "1"))
    }
}
