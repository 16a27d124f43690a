import Foundation
import TallyTestSupport
import Testing

/// The live-event pages as tallyd mounts them (their behaviour in a browser: Tests/compat/test_pages.py).
@Suite struct PagesTests {
    @Test func pagesAreServedByDefaultAndOffWithPagesFalse() throws {
        let f = try NativeFixture()
        let poll = try f.create()
        let stage = try #require(f.client.request("GET", "/live/\(poll)"))
        #expect(stage.status == 200 && stage.headers["content-type"] == "text/html; charset=utf-8")
        #expect(stage.headers["content-security-policy"]?.contains("script-src 'self'") == true)
        func qr(host: String) -> HTTPResponse? {
            f.client.send("GET /live/\(poll)/qr.svg HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            return f.client.response()
        }
        let code = try #require(qr(host: "vote.example:8080"))
        #expect(code.status == 200 && code.headers["content-type"] == "image/svg+xml" && code.text.hasPrefix("<svg"))
        #expect(qr(host: "bad\"<host")?.status == 404, "a Host that is no host name names no URL")
        #expect(f.client.request("GET", "/console")?.status == 200)

        let off = try NativeFixture(config: NativeFixture.config.replacingOccurrences(of: "[server]\n", with: "[server]\npages = false\n"))
        for path in ["/live/\(poll)", "/vote/\(poll)", "/console", "/pages/vote.js"] {
            #expect(off.client.request("GET", path)?.status == 404, "\(path)")
        }
    }
}
