import TallyAPI
import TallyCore
import TallyHTTP

/// The live-event pages, served from the binary: the stage screen `/live/{id}`, the voting page
/// `/vote/{id}`, the organizer console `/console`, their scripts and style under `/pages/`, and the
/// stage screen's QR code `/live/{id}/qr.svg` (the voting page's URL). The pages do everything
/// through the native API (`/v1/…`) from the browser; tallyd only serves files here.
public final class PagesAPI: Sendable {
    private let html: [String: PageAsset]
    private let files: [String: PageAsset]
    /// The scheme and host the QR codes name (`[server] public_url`); nil: `http://` and the
    /// request's Host.
    private let publicURL: String?

    public init(publicURL: String?) {
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        func page(_ bytes: [UInt8]) -> PageAsset { PageAsset(bytes, contentType: "text/html; charset=utf-8", cacheControl: "no-cache") }
        html = ["live": page(PackageResources.live_html), "vote": page(PackageResources.vote_html), "console": page(PackageResources.console_html)]
        let script: StaticString = "text/javascript; charset=utf-8"
        files = [
            "pages.css": PageAsset(PackageResources.pages_css, contentType: "text/css; charset=utf-8", cacheControl: "no-cache"),
            "live.js": PageAsset(PackageResources.live_js, contentType: script, cacheControl: "no-cache"),
            "vote.js": PageAsset(PackageResources.vote_js, contentType: script, cacheControl: "no-cache"),
            "console.js": PageAsset(PackageResources.console_js, contentType: script, cacheControl: "no-cache"),
        ]
    }

    public func install(on router: Router) {
        router.add(.get, "/live/{id}") { [self] request, parameters, response in
            pollPage("live", request, parameters[0], response)
        }
        router.add(.get, "/vote/{id}") { [self] request, parameters, response in
            pollPage("vote", request, parameters[0], response)
        }
        router.add(.get, "/console") { [self] request, _, response in
            serve(html["console"]!, request, response)
        }
        router.add(.get, "/pages/{file}") { [self] request, parameters, response in
            guard let file = files[String(decoding: parameters[0], as: UTF8.self)] else { return notFound(response) }
            serve(file, request, response)
        }
        router.add(.get, "/live/{id}/qr.svg") { [self] request, parameters, response in
            guard PollIDs.parse(parameters[0]) != nil, let base = base(request) else { return notFound(response) }
            var url = base + "/vote/" + String(decoding: parameters[0], as: UTF8.self)
            // A private poll's token (32 hex digits), for its voters' links: in the fragment.
            if let text = QueryString.value("p", in: request.query) {
                let token = PollToken(parsing: text)
                guard token != .malformed else { return notFound(response) }
                url += "#p=\(token)"
            }
            guard let svg = QRCodeSVG.svg(of: url) else { return notFound(response) }
            let headers = "Cache-Control: no-cache\r\n" + PageAsset.securityHeaders
            Array(svg.utf8).withUnsafeBytes { body in
                Array(headers.utf8).withUnsafeBytes { response.write(status: 200, contentType: "image/svg+xml", body: body, headerLines: $0) }
            }
        }
    }

    private func pollPage(_ name: String, _ request: Request, _ id: UnsafeRawBufferPointer, _ response: ResponseWriter) {
        guard PollIDs.parse(id) != nil else { return notFound(response) }
        serve(html[name]!, request, response)
    }

    /// `public_url`, or `http://` and the request's Host (letters, digits and `.-:[]` only).
    private func base(_ request: Request) -> String? {
        if let publicURL { return publicURL }
        guard let host = request.header("Host"), !host.isEmpty, host.count <= 255,
            host.allSatisfy({ byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || Array(".-:[]".utf8).contains(byte)
            })
        else { return nil }
        return "http://" + String(decoding: host, as: UTF8.self)
    }

    /// The file, or 304 if the client has this version; gzip'd if the client takes gzip.
    private func serve(_ asset: PageAsset, _ request: Request, _ response: ResponseWriter) {
        if let tags = request.header("If-None-Match"), Self.contains(tags, asset.etag) {
            return asset.plainHeaders.withUnsafeBytes { response.write(status: 304, contentType: nil, body: UnsafeRawBufferPointer(start: nil, count: 0), headerLines: $0) }
        }
        let gzip = request.header("Accept-Encoding").map { Self.contains($0, Array("gzip".utf8)) } ?? false
        (gzip ? asset.gzipped : asset.body).withUnsafeBytes { body in
            (gzip ? asset.gzipHeaders : asset.plainHeaders).withUnsafeBytes {
                response.write(status: 200, contentType: asset.contentType, body: body, headerLines: $0)
            }
        }
    }

    private static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in needle.indices.allSatisfy { haystack[start + $0] == needle[$0] } }
    }

    private func notFound(_ response: ResponseWriter) {
        response.writeError(status: 404, code: "not_found", message: "no such page")
    }
}
