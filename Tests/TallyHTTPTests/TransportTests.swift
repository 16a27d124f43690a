import CLibUV
import Foundation
import TallyHTTP
import TallyTestSupport
import Testing

/// A real server on a free port with a few routes; stopped (gracefully) when the test ends.
final class TestServer {
    let server: HTTPServer
    var port: Int { server.port }

    init(loops: Int = 1, limits: HTTPLimits = HTTPLimits()) throws {
        server = try HTTPServer(host: "127.0.0.1", port: 0, loopCount: loops, limits: limits) { loop in
            let router = Router()
            router.add(.get, "/hello") { _, _, response in
                let hi: StaticString = "hi"
                response.write(status: 200, contentType: "text/plain", body: UnsafeRawBufferPointer(start: hi.utf8Start, count: 2))
            }
            router.add(.post, "/echo/{name}") { request, parameters, response in
                response.writeJSON(status: 201) { json in
                    json.object { o in
                        o.key("name")
                        o.value(bytes: parameters[0])
                        o.key("body")
                        o.value(bytes: request.body)
                        o.key("agent")
                        if let agent = request.header("user-agent") { o.value(bytes: agent) } else { o.null() }
                        o.field("loop", loop.index)
                    }
                }
            }
            // Answered later, by a timer on the loop (as a vote is answered when Redis replies).
            let later = LaterResponses(loop.uvLoop)
            router.add(.post, "/later/{name}") { _, parameters, response in
                let name = String(decoding: parameters[0], as: UTF8.self)
                later.add(response.deferred()) { writer in
                    writer.writeJSON(status: 200) { json in json.object { $0.field("name", string: name) } }
                }
            }
            // Deferred twice: the answer needs a second look-up before it is written.
            router.add(.post, "/twice/{name}") { _, parameters, response in
                let name = String(decoding: parameters[0], as: UTF8.self)
                later.add(response.deferred()) { writer in
                    later.add(writer.deferred()) { writer in
                        writer.writeJSON(status: 200) { json in json.object { $0.field("name", string: name) } }
                    }
                }
            }
            loop.onStop { later.stop() }
            // A dialect's mount: its errors in its own shape.
            let dialect = router.group("/dialect//v2") { error, response in
                response.writeJSON(status: error.status) { json in json.object { $0.field("dialect_error", error.status) } }
            }
            dialect.add(.post, "/things/{name}") { request, parameters, response in
                response.writeJSON(status: 200) { json in json.object { $0.key("thing"); $0.value(bytes: parameters[0]) } }
            }
            return router
        }
        server.start()
    }

    deinit {
        server.stop()
        server.wait()
    }

    func client() throws -> RawClient { try RawClient(port: port) }
}

/// Deferred responses completed 2 ms later by a timer on their loop.
final class LaterResponses {
    private var waiting: [(DeferredResponse, (ResponseWriter) -> Void)] = []
    private let timer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)

    init(_ loop: UnsafeMutablePointer<uv_loop_t>) {
        uv_timer_init(loop, timer)
        timer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_start(timer, { Unmanaged<LaterResponses>.fromOpaque($0!.pointee.data).takeUnretainedValue().fire() }, 2, 2)
    }

    func add(_ response: DeferredResponse, _ body: @escaping (ResponseWriter) -> Void) { waiting.append((response, body)) }

    private func fire() {
        let due = waiting
        waiting = []
        for (response, body) in due { response.complete(body) }
    }

    func stop() { uv_close(UnsafeMutablePointer<uv_handle_t>(OpaquePointer(timer)), nil) }
}

@Suite(.serialized) struct TransportTests {
    @Test func answersAndKeepsTheConnectionAlive() throws {
        let server = try TestServer()
        let client = try server.client()
        for _ in 0..<3 {
            client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try #require(client.response())
            #expect(response.status == 200 && response.text == "hi")
            #expect(response.headers["date"] != nil && response.headers["connection"] == nil)
        }
    }

    @Test func routesParametersHeadersAndBody() throws {
        let server = try TestServer()
        let client = try server.client()
        client.send("POST /echo/ann HTTP/1.1\r\nHost: x\r\nUser-Agent:  tester \r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}")
        let response = try #require(client.response())
        #expect(response.status == 201)
        #expect(response.json?["name"] as? String == "ann")
        #expect(response.json?["body"] as? String == "{\"a\":\"b\"}")
        #expect(response.json?["agent"] as? String == "tester")
    }

    @Test func unknownPathIs404AndWrongMethodIs405() throws {
        let server = try TestServer()
        let client = try server.client()
        client.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\nDELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = client.responses(2)
        #expect(responses.map(\.status) == [404, 405])
        #expect(responses.first?.json?["code"] as? String == "not_found")
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let server = try TestServer()
        let client = try server.client()
        let names = (0..<20).map { "n\($0)" }
        client.send(names.map { "POST /echo/\($0) HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" }.joined())
        let responses = client.responses(names.count)
        #expect(responses.compactMap { $0.json?["name"] as? String } == names)
    }

    @Test func deferredResponsesKeepPipelineOrder() throws {
        let server = try TestServer()
        let client = try server.client()
        let paths = (0..<30).map { $0 % 3 == 2 ? "/echo/n\($0)" : $0 % 3 == 1 ? "/twice/n\($0)" : "/later/n\($0)" }
        client.send(paths.map { "POST \($0) HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" }.joined())
        let responses = client.responses(paths.count)
        #expect(responses.compactMap { $0.json?["name"] as? String } == (0..<30).map { "n\($0)" })
        // The connection goes on serving afterwards, deferred or not.
        client.send("POST /later/after HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.responses(2).map(\.status) == [200, 200])
    }

    @Test func aClientThatLeavesBeforeItsDeferredResponseHurtsNothing() throws {
        let server = try TestServer()
        for _ in 0..<50 {
            let leaving = try server.client()
            leaving.send("POST /later/gone HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nPOST /later/gone HTTP/1.1\r\n")
        }
        usleep(20_000)
        let client = try server.client()
        client.send("POST /later/still HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        let response = try #require(client.response())
        #expect(response.json?["name"] as? String == "still" && response.headers["connection"] == "close")
        #expect(client.isClosedByPeer())
    }

    @Test func aClientThatHalfClosesIsAnsweredEverythingItSent() throws {
        let server = try TestServer()
        let client = try server.client()
        let paths = ["/later/a", "/echo/b", "/later/c", "/echo/d"]
        client.send(paths.map { "POST \($0) HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" }.joined())
        client.finishSending()
        #expect(client.responses(paths.count).compactMap { $0.json?["name"] as? String } == ["a", "b", "c", "d"])
        #expect(client.isClosedByPeer())
    }

    @Test func requestSplitIntoSingleBytesStillWorks() throws {
        let server = try TestServer()
        let client = try server.client()
        for byte in Array("POST /echo/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".utf8) {
            client.send([byte])
            usleep(200)
        }
        let response = try #require(client.response())
        #expect(response.json?["body"] as? String == "hello")
    }

    @Test func chunkedBodyIsAccepted() throws {
        let server = try TestServer()
        let client = try server.client()
        client.send("POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        #expect(client.response()?.json?["body"] as? String == "abcde")
    }

    @Test func unknownMethodGets501() throws {
        let server = try TestServer()
        let client = try server.client()
        client.send("QUERY /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.response()?.status == 501)
    }

    /// 501 is for a well-formed request line whose method is unknown; bytes that are no request
    /// line at all (noise, a TLS ClientHello, NUL) are a malformed request: 400.
    @Test func garbageGets400NotUnknownMethod() throws {
        let server = try TestServer()
        let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03] + Array(repeating: 0x42, count: 32)
        let garbage: [[UInt8]] = [
            clientHello, [0, 0, 0, 0], Array("\u{1}\u{2}GET / HTTP/1.1\r\n\r\n".utf8), Array("G@T /hello HTTP/1.1\r\n\r\n".utf8),
            Array("QUERY\r\n\r\n".utf8), Array("hello world\r\n\r\n".utf8), [0xff, 0xfe, 0x20, 0x2f, 0x20],
        ]
        for bytes in garbage {
            let client = try server.client()
            client.send(bytes)
            let response = try #require(client.response(), "\(bytes)")
            #expect(response.status == 400 && response.json?["code"] as? String == "malformed_request", "\(bytes): \(response)")
        }
        let unknown = try server.client()
        unknown.send("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(unknown.response()?.status == 501)
    }

    /// RFC 9112 §5.1: no whitespace between a field name and its colon (a request smuggling
    /// precondition when a proxy reads it otherwise); §6.1: Transfer-Encoding and Content-Length
    /// together are refused.
    @Test func fieldNamesWithWhitespaceAndAmbiguousLengthsGet400() throws {
        let server = try TestServer()
        let requests = [
            "GET /hello HTTP/1.1\r\nHost : x\r\n\r\n",
            "GET /hello HTTP/1.1\r\nHost\t: x\r\n\r\n",
            "POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length : 4\r\n\r\nabcd",
            "POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
            "POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
            " GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        ]
        for text in requests {
            let client = try server.client()
            client.send(text)
            let response = try #require(client.response(), "\(text)")
            #expect(response.status == 400 && response.headers["connection"] == "close", "\(text.debugDescription): \(response)")
            #expect(client.isClosedByPeer())
        }
        let fine = try server.client()
        fine.send("POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length:4\r\nX-Spaces:   padded   \r\n\r\nabcd")
        #expect(fine.response()?.status == 201, "no space after the colon, spaces around the value: fine")
    }

    /// Under a route group's prefix, routing and protocol errors come in the group's shape; elsewhere
    /// in the router's default shape. The prefix is matched segment by segment, repeated slashes
    /// collapsed.
    @Test func aRouteGroupAnswersItsErrorsInItsOwnShape() throws {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 64
        let server = try TestServer(limits: limits)
        func send(_ text: String) throws -> HTTPResponse {
            let client = try server.client()
            client.send(text)
            return try #require(client.response())
        }
        let found = try send("POST //dialect/v2/things/cup HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        #expect(found.status == 200 && found.json?["thing"] as? String == "cup")
        let cases: [(String, Int)] = [
            ("GET /dialect/v2/nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404),
            ("GET /dialect/v2/things/cup HTTP/1.1\r\nHost: x\r\n\r\n", 405),
            ("POST /dialect/v2/things/cup HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 413),
            ("POST /dialect/v2/things/cup HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ]
        for (text, status) in cases {
            let response = try send(text)
            #expect(response.status == status && response.json?["dialect_error"] as? Int == status, "\(text): \(response)")
        }
        let native = try send("GET /dialect/v3/things HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(native.status == 404 && native.json?["code"] as? String == "not_found", "outside the prefix: the default shape")
        let partial = try send("GET /dialectv2/things HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(partial.json?["code"] as? String == "not_found", "a prefix is whole segments")
    }

    @Test func wrongMethodNamesTheAllowedOnes() throws {
        let server = try TestServer()
        let client = try server.client()
        client.send("PUT /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        let response = try #require(client.response())
        #expect(response.status == 405 && response.headers["allow"] == "GET, HEAD")
    }

    @Test func malformedRequestGets400AndClose() throws {
        let server = try TestServer()
        let client = try server.client()
        client.send("GET /hello HTTP/1.1\r\nthis line has no colon\r\n\r\n")
        let response = try #require(client.response())
        #expect(response.status == 400 && response.headers["connection"] == "close")
        #expect(client.isClosedByPeer())
    }

    @Test func oversizeHeadersGet431() throws {
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 1024
        let server = try TestServer(limits: limits)
        let client = try server.client()
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 2000))\r\n\r\n")
        #expect(client.response()?.status == 431)
        #expect(client.isClosedByPeer())
    }

    @Test func tooManyHeadersGet431() throws {
        var limits = HTTPLimits()
        limits.maxHeaderCount = 8
        let server = try TestServer(limits: limits)
        let client = try server.client()
        client.send("GET /hello HTTP/1.1\r\n" + (0..<9).map { "X-\($0): y\r\n" }.joined() + "\r\n")
        #expect(client.response()?.status == 431)
    }

    @Test func oversizeBodyGets413ByLengthAndByChunks() throws {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 16
        let server = try TestServer(limits: limits)
        let declared = try server.client()
        declared.send("POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n")
        #expect(declared.response()?.status == 413)
        let chunked = try server.client()
        chunked.send("POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n")
        #expect(chunked.response()?.status == 413)
    }

    @Test func slowHeadersAndSlowBodyGet408() throws {
        var limits = HTTPLimits()
        limits.headerTimeoutMilliseconds = 300
        limits.bodyTimeoutMilliseconds = 300
        let server = try TestServer(limits: limits)
        let slowHead = try server.client()
        slowHead.send("GET /hello HTTP/1.1\r\nHost: x\r\n")
        #expect(slowHead.response(timeout: 3)?.status == 408)
        #expect(slowHead.isClosedByPeer())
        let slowBody = try server.client()
        slowBody.send("POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        #expect(slowBody.response(timeout: 3)?.status == 408)
    }

    @Test func trickledHeadersStillTimeOut() throws {
        // A slowloris client sends a byte now and then: the header deadline is not reset by reads.
        var limits = HTTPLimits()
        limits.headerTimeoutMilliseconds = 500
        let server = try TestServer(limits: limits)
        let client = try server.client()
        client.send("GET /hello HTTP/1.1\r\n")
        let start = Date()
        var closed = false
        for _ in 0..<30 where !closed {
            client.send("X: y\r\n")
            closed = client.isClosedByPeer(timeout: 0.1)
        }
        #expect(closed)
        #expect(Date().timeIntervalSince(start) < 2)
    }

    @Test func idleKeepAliveConnectionIsClosed() throws {
        var limits = HTTPLimits()
        limits.idleTimeoutMilliseconds = 300
        let server = try TestServer(limits: limits)
        let client = try server.client()
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.response()?.status == 200)
        #expect(client.isClosedByPeer(timeout: 3))
    }

    @Test func connectionCloseIsHonouredAndLaterPipelinedRequestsIgnored() throws {
        let server = try TestServer()
        let client = try server.client()
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = client.responses(2, timeout: 1)
        #expect(responses.count == 1 && responses.first?.headers["connection"] == "close")
        #expect(client.isClosedByPeer())
    }

    @Test func http10ClosesAfterTheResponse() throws {
        let server = try TestServer()
        let client = try server.client()
        client.send("GET /hello HTTP/1.0\r\n\r\n")
        #expect(client.response()?.status == 200)
        #expect(client.isClosedByPeer())
    }

    @Test func headGetsHeadersWithoutBody() throws {
        let server = try TestServer()
        let client = try server.client()
        client.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        // The HEAD response declares 2 bytes but carries none: the GET's response follows its headers.
        let raw = client.receiveAll(timeout: 0.5)
        let parts = raw.components(separatedBy: "\r\n\r\n")
        #expect(parts.count == 3, "\(raw)")
        #expect(parts[0].hasPrefix("HTTP/1.1 200 OK") && parts[0].contains("Content-Length: 2"))
        #expect(parts[1].hasPrefix("HTTP/1.1 200 OK") && parts[2] == "hi")
    }

    @Test func connectionsBeyondTheCapGet503() throws {
        var limits = HTTPLimits()
        limits.maxConnections = 2
        let server = try TestServer(limits: limits)
        let held = try (0..<2).map { _ in try server.client() }
        for client in held {
            client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(client.response()?.status == 200)
        }
        let extra = try server.client()
        let refused = try #require(extra.response())
        #expect(refused.status == 503 && refused.headers["retry-after"] == "1")
        #expect(extra.isClosedByPeer())
    }

    @Test func stopFinishesTheRequestInFlightThenCloses() throws {
        let server = try TestServer()
        let busy = try server.client()
        busy.send("POST /echo/late HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        let idle = try server.client()
        idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(idle.response()?.status == 200)
        usleep(100_000)
        server.server.stop()
        #expect(idle.isClosedByPeer(timeout: 2))
        busy.send("c")  // the rest of its body in two reads: the first must not close it
        usleep(50_000)
        busy.send("d")
        let response = try #require(busy.response())
        #expect(response.json?["body"] as? String == "abcd" && response.headers["connection"] == "close")
        #expect(busy.isClosedByPeer())
        #expect((try? server.client()) == nil, "no longer accepting")
    }

    @Test func stopWithOnlyIdleConnectionsShutsDownCleanly() throws {
        let server = try TestServer(loops: 2)
        let clients = try (0..<4).map { _ in try server.client() }
        for client in clients {
            client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(client.response()?.status == 200)
        }
        server.server.stop()
        server.server.wait()
        for client in clients { #expect(client.isClosedByPeer(timeout: 1)) }
    }

    @Test func randomBytesNeverCrashTheServer() throws {
        let server = try TestServer()
        var generator = SystemRandomNumberGenerator()
        let valid = Array("POST /echo/fuzz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".utf8)
        for round in 0..<300 {
            let client = try server.client()
            var bytes = valid
            // Mutate a valid request, or send plain noise.
            if round % 3 == 0 {
                bytes = (0..<Int.random(in: 1...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                for _ in 0..<Int.random(in: 1...6, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            client.send(bytes)
            if let response = client.response(timeout: 0.2) {
                #expect([201, 400, 404, 405, 413, 431, 501].contains(response.status), "round \(round): \(response.status)")
            }
        }
        let client = try server.client()
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.response()?.status == 200)
    }

    @Test func twoLoopsShareThePort() throws {
        let server = try TestServer(loops: 2)
        var loops = Set<Int>()
        for _ in 0..<40 {
            let client = try server.client()
            client.send("POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            if let loop = client.response()?.json?["loop"] as? Int { loops.insert(loop) }
        }
        #expect(loops == [0, 1])
    }
}
