import TallyHTTP

/// HTTP Basic credentials (RFC 7617): `Basic base64(user ":" password)`, decoded on the stack.
enum BasicCredentials {
    /// Room for the decoded credentials: a voter id (128 bytes), a colon and a voter token.
    private static let maxDecodedBytes = 768

    /// Calls `body` with the user name and password of an `Authorization: Basic …` value; nil if
    /// the value is not Basic credentials.
    static func read<Result>(
        _ authorization: UnsafeRawBufferPointer, _ body: (_ user: UnsafeRawBufferPointer, _ password: UnsafeRawBufferPointer) -> Result
    ) -> Result? {
        let scheme: StaticString = "Basic "
        guard authorization.count > 6,
            ASCII.equalsIgnoringCase(
                UnsafeRawBufferPointer(rebasing: authorization[0..<6]), UnsafeRawBufferPointer(start: scheme.utf8Start, count: 6))
        else { return nil }
        let encoded = ASCII.trimmed(UnsafeRawBufferPointer(rebasing: authorization[6...]))
        return withUnsafeTemporaryAllocation(byteCount: maxDecodedBytes, alignment: 1) { decoded -> Result? in
            guard let count = Base64Standard.decode(encoded, into: decoded) else { return nil }
            let credentials = UnsafeRawBufferPointer(rebasing: decoded[0..<count])
            guard let colon = credentials.firstIndex(of: UInt8(ascii: ":")) else { return nil }
            return body(
                UnsafeRawBufferPointer(rebasing: credentials[..<colon]), UnsafeRawBufferPointer(rebasing: credentials[(colon + 1)...]))
        }
    }

    /// The user name of Basic credentials, if the request carries them (admin path).
    static func user(_ request: Request) -> String? {
        request.header("authorization").flatMap { read($0) { user, _ in String(decoding: user, as: UTF8.self) } }
    }
}
