import TallyCore

/// One of the pages' files as it is served: its bytes and their gzip, and the header lines of each
/// answer, made once at start. Revalidated by ETag (the files change only with the binary).
struct PageAsset {
    let contentType: StaticString
    let body: [UInt8]
    let gzipped: [UInt8]
    let etag: [UInt8]
    let plainHeaders: [UInt8]
    let gzipHeaders: [UInt8]

    /// What every page answer carries: scripts, styles, images and requests from tallyd only, no
    /// inline script, never framed.
    static let securityHeaders = "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
        + "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"

    init(_ body: [UInt8], contentType: StaticString, cacheControl: String) {
        self.contentType = contentType
        self.body = body
        gzipped = Gzip.compress(body)
        // Names this version of the file.
        let tag = "\"" + String(StableHash.fnv1a(body), radix: 16) + "\""
        etag = Array(tag.utf8)
        let common = "ETag: \(tag)\r\nCache-Control: \(cacheControl)\r\nVary: Accept-Encoding\r\n" + PageAsset.securityHeaders
        plainHeaders = Array(common.utf8)
        gzipHeaders = Array((common + "Content-Encoding: gzip\r\n").utf8)
    }
}
