import TallyBase

/// Appends one response to the connection's pending output, after the responses to any earlier
/// pipelined requests; the connection writes them all at once when the read is processed.
public struct ResponseWriter {
    let output: ByteBuffer
    unowned(unsafe) let context: EventLoop
    unowned(unsafe) let connection: Connection
    let isHead: Bool
    /// The connection closes after this response (the client asked, an error, or shutdown).
    let closesConnection: Bool

    /// A buffer to build a body in: emptied for each response, shared by the loop.
    public var scratch: ByteBuffer { context.scratch }

    /// Writes a complete response. `extraHeaders` are whole lines, each ending in CRLF.
    public func write(status: Int, contentType: StaticString?, body: UnsafeRawBufferPointer, extraHeaders: StaticString = "") {
        write(status: status, contentType: contentType, body: body) {
            output.append(extraHeaders)
        }
    }

    /// Writes a complete response with header lines made at run time (`headerLines`: whole lines,
    /// each ending in CRLF).
    public func write(status: Int, contentType: StaticString?, body: UnsafeRawBufferPointer, headerLines: UnsafeRawBufferPointer) {
        write(status: status, contentType: contentType, body: body) { output.append(headerLines) }
    }

    private func write(status: Int, contentType: StaticString?, body: UnsafeRawBufferPointer, headers: () -> Void) {
        // A 204 carries no Content-Length, a 304 none of its own (RFC 9110 §8.6).
        writeHead(status: status, contentType: contentType, contentLength: status == 204 || status == 304 ? nil : body.count, headers: headers)
        if !isHead { output.append(body) }
    }

    /// Status line, Date, Content-Type, Content-Length (unless nil), Connection, `headers`, blank line.
    private func writeHead(status: Int, contentType: StaticString?, contentLength: Int?, headers: () -> Void) {
        context.stats.responded(status: status)
        output.append(HTTPStatus.line(status))
        output.append(context.dateHeader.bytes)
        if let contentType {
            output.append("Content-Type: ")
            output.append(contentType)
            output.append("\r\n")
        }
        if let contentLength {
            output.append("Content-Length: ")
            output.append(decimal: contentLength)
            output.append("\r\n")
        }
        if closesConnection { output.append("Connection: close\r\n") }
        headers()
        output.append("\r\n")
    }

    /// Writes a JSON response whose body `build` writes. `header`: one more header whose value is
    /// made at run time (a 405's `Allow`, which RFC 9110 requires there; an `ETag`).
    public func writeJSON(
        status: Int, extraHeaders: StaticString = "", header: (name: StaticString, value: String)? = nil, _ build: (inout JSONWriter) -> Void
    ) {
        let body = context.scratch
        body.removeAll()
        var json = JSONWriter(body)
        build(&json)
        write(status: status, contentType: "application/json; charset=utf-8", body: body.bytes) {
            output.append(extraHeaders)
            if let header {
                output.append(header.name)
                output.append(": ")
                output.append(string: header.value)
                output.append("\r\n")
            }
        }
    }

    /// Writes `{"error": message, "code": code}`.
    public func writeError(status: Int, code: StaticString, message: StaticString, extraHeaders: StaticString = "") {
        writeJSON(status: status, extraHeaders: extraHeaders) { json in
            json.object { error in
                error.field("error", message)
                error.field("code", code)
            }
        }
    }

    /// Answers later: the handler returns without writing, and whoever holds the result completes
    /// it (see `DeferredResponse`).
    public func deferred() -> DeferredResponse {
        connection.beginDeferred()
        return DeferredResponse(connection: connection, isHead: isHead)
    }

    /// Answers with a stream of Server-Sent Events: `tick` runs now and on every tick of the loop's
    /// sweep timer (every 250 ms) until it returns false, the client goes away or the server stops.
    /// The connection takes no further requests.
    public func startEventStream(_ tick: @escaping EventStreamTick) {
        writeHead(status: 200, contentType: "text/event-stream", contentLength: nil) {
            // X-Accel-Buffering: nginx passes events on at once instead of buffering them.
            output.append("Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nX-Accel-Buffering: no\r\n")
        }
        connection.startStream(tick)
    }
}
