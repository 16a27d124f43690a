import CHTTPParser
import CLibUV
import TallyBase

/// One client connection: a small state machine driven by libuv reads and http_parser callbacks.
///
/// - A read is parsed at once; each complete request is dispatched as soon as it is parsed and its
///   response appended to `output`. When the read is done, all of its responses go out in one
///   write (`uv_try_write`, then `uv_write` for what the socket did not take).
/// - While a `uv_write` is in flight, reading stops: `output` must not move under libuv, and a
///   client that does not read its responses cannot make us buffer more (backpressure). Whether it
///   reads follows `ConnectionState` alone, set in one place (`updateReading`).
/// - A request's bytes (URL, headers, body) are copied into `input`, so requests split across
///   reads work; `input` and `output` are reused for every request on the connection.
/// - Deadlines (header, body, idle) are plain numbers checked by the loop's sweep timer.
/// - A handler may answer later (`DeferredResponse`: a vote waits for Redis). Parsing then pauses
///   after that request; bytes of later pipelined requests wait in `held` (reading stops beyond
///   `maxHeldBytes`) and are parsed once the deferred response is written, so responses keep the
///   order of requests.
final class Connection {
    private enum HeaderPart { case none, name, value }

    unowned(unsafe) let loop: EventLoop
    var slot: Int
    let tcp: UnsafeMutablePointer<uv_tcp_t>
    private let parser: UnsafeMutablePointer<http_parser>
    private let writeRequest: UnsafeMutablePointer<uv_write_t>
    private let input = ByteBuffer(capacity: 1024)
    private let output = ByteBuffer(capacity: 1024)
    private let headers: UnsafeMutableBufferPointer<HeaderSpan>
    private var headerCount = 0
    private var lastHeaderPart = HeaderPart.none
    private var urlCount = 0
    /// The URL's length in `input` of the request being answered (`urlCount` is reset once it is
    /// dispatched), for handling it again (`redispatchDeferred`).
    private var requestURLCount = 0
    private var bodyStart = 0
    private var peer = PeerAddress.unknown
    /// uv_hrtime() at the request's first byte, for the latency histogram.
    private var startedAt: UInt64 = 0

    private var state = ConnectionState()
    /// What libuv was last told: reading or not.
    private var reading = false
    /// uv_now() milliseconds at which the current phase times out; 0 for none.
    private(set) var deadline: UInt64 = 0
    /// A status a parser callback decided on (413, 431) before failing the parse.
    private var rejection = 0
    /// Bytes that arrived after the request being answered later (allocated on first need).
    private var held: ByteBuffer?
    private static let maxHeldBytes = 64 * 1024
    private var streamTick: EventStreamTick?
    private var ticksSinceWrite = 0
    var isStreaming: Bool { state.streaming }

    var stream: UnsafeMutablePointer<uv_stream_t> { TallyHTTP.stream(tcp) }

    init(loop: EventLoop, slot: Int) {
        self.loop = loop
        self.slot = slot
        tcp = .allocate(capacity: 1)
        parser = .allocate(capacity: 1)
        writeRequest = .allocate(capacity: 1)
        headers = .allocate(capacity: loop.limits.maxHeaderCount)
        uv_tcp_init(loop.loop, tcp)
        // Retained for libuv; released in the close callback.
        tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()
        http_parser_init(parser, HTTP_REQUEST)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        tcp.deallocate()
        parser.deallocate()
        writeRequest.deallocate()
        headers.deallocate()
    }

    /// Starts reading a freshly accepted connection (or refuses it when the loop is full).
    func begin(rejectWith503 full: Bool) {
        uv_tcp_nodelay(tcp, 1)
        peer = peerAddress()
        if full {
            state.failed()
            writeError(.tooManyConnections)
            flush()
            return
        }
        deadline = uv_now(loop.loop) + UInt64(loop.limits.idleTimeoutMilliseconds)
        state.accepted()
        updateReading()
    }

    /// The one place that starts or stops reading: libuv is told when `state` wants a change.
    private func updateReading() {
        let wanted = state.wantsReading
        guard wanted != reading, !state.closing else { return }
        reading = wanted
        if wanted {
            uv_read_start(stream, allocateReadBuffer, onRead)
        } else {
            uv_read_stop(stream)
        }
    }

    // MARK: - Reading

    func received(_ bytes: UnsafeRawBufferPointer) {
        if state.awaiting {
            hold(bytes)
        } else {
            let parsed = parse(bytes)
            if state.awaiting && parsed < bytes.count { hold(UnsafeRawBufferPointer(rebasing: bytes[parsed...])) }
            parsingStopped()
        }
        updateReading()
    }

    /// Parses what arrived; returns how many bytes were consumed (fewer when a request paused the
    /// parser: a deferred response, a close, a stream).
    private func parse(_ bytes: UnsafeRawBufferPointer) -> Int {
        let parsed = bytes.withMemoryRebound(to: CChar.self) { chars in
            http_parser_execute(parser, &parserCallbacks, chars.baseAddress, chars.count)
        }
        let error = http_errno(rawValue: parser.pointee.http_errno)
        if error == HPE_PAUSED {
            // A deferred response holds the rest; after a close or a stream it is ignored.
        } else if error != HPE_OK || parsed != bytes.count {
            state.failed()
            switch (rejection, error) {
            case (413, _): writeError(.bodyTooLarge)
            case (431, _), (_, HPE_HEADER_OVERFLOW): writeError(.headersTooLarge)
            case (_, HPE_INVALID_METHOD) where HTTPSyntax.isRequestLineWithUnknownMethod(bytes, failedAt: parsed):
                writeError(.methodNotImplemented)
            default: writeError(.malformedRequest)
            }
        }
        return parsed
    }

    /// After a read is parsed: the idle deadline, and the responses written so far go out.
    private func parsingStopped() {
        if state.phase == .idle && !state.closeAfterWrite && !state.streaming {
            // Waiting on our own work is not the client's idleness.
            deadline = state.awaiting ? 0 : uv_now(loop.loop) + UInt64(loop.limits.idleTimeoutMilliseconds)
        }
        flush()
    }

    // MARK: - Deferred responses

    func beginDeferred() { state.deferred() }

    /// Keeps bytes that arrived behind a deferred response; a client that sends too much of them
    /// is not read from until the response is written.
    private func hold(_ bytes: UnsafeRawBufferPointer) {
        let buffer = held ?? ByteBuffer(capacity: bytes.count)
        held = buffer
        buffer.append(bytes)
        if buffer.count >= Connection.maxHeldBytes { state.heldFilled() }
    }

    /// The deferred response: written and sent, then the requests held behind it are parsed (unless
    /// `body` deferred it again).
    func completeDeferred(isHead: Bool, _ body: (ResponseWriter) -> Void) {
        state.answered()
        guard !state.closing else { return }
        body(writer(isHead: isHead))
        deferredAnswered()
    }

    /// The deferred response's request is handled again from the start, as if it had just arrived:
    /// its bytes are still in `input`, since nothing behind it is parsed until it is answered.
    func redispatchDeferred() {
        state.answered()
        guard !state.closing else { return }
        let before = output.count
        urlCount = requestURLCount
        dispatchRequest()
        if !state.awaiting && output.count == before && !state.streaming { writeError(.noResponse) }
        urlCount = 0
        deferredAnswered()
    }

    /// After a deferred response's body ran: unless it deferred again, the requests held behind
    /// it are parsed.
    private func deferredAnswered() {
        loop.stats.latency.observe(microseconds: Int64((uv_hrtime() - startedAt) / 1_000))
        // A body may defer again (an answer that needs a second look-up): the rest keeps waiting.
        if !state.closeAfterWrite && !state.awaiting && !state.streaming {
            http_parser_pause(parser, 0)
            if let held, held.count > 0 {
                let parsed = parse(held.bytes)
                held.removeFirst(state.awaiting ? parsed : held.count)
            }
            state.heldParsed()
        }
        parsingStopped()
        updateReading()
    }

    /// The client closed its sending side (`UV_EOF`: it may still read, so a pending answer and
    /// the requests held behind it are still answered), or the read failed.
    func endOfInput(_ status: Int) {
        if state.inputEnded(cleanly: status == Int(UV_EOF.rawValue)) { close() }
        updateReading()
    }

    // MARK: - Parser callbacks

    func messageBegin() -> Int32 {
        input.removeAll()
        headerCount = 0
        lastHeaderPart = .none
        urlCount = 0
        rejection = 0
        startedAt = uv_hrtime()
        state.requestBegan()
        deadline = uv_now(loop.loop) + UInt64(loop.limits.headerTimeoutMilliseconds)
        return 0
    }

    func url(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        input.append(bytes)
        urlCount += bytes.count
        return 0
    }

    func headerName(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        if lastHeaderPart != .name {
            guard headerCount < headers.count else {
                rejection = 431
                return 1
            }
            headers[headerCount] = HeaderSpan(nameStart: Int32(input.count))
            headerCount += 1
            lastHeaderPart = .name
        }
        headers[headerCount - 1].nameCount += Int32(bytes.count)
        input.append(bytes)
        return 0
    }

    func headerValue(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        if lastHeaderPart != .value {
            headers[headerCount - 1].valueStart = Int32(input.count)
            lastHeaderPart = .value
        }
        headers[headerCount - 1].valueCount += Int32(bytes.count)
        input.append(bytes)
        return 0
    }

    func headersComplete() -> Int32 {
        for header in headers[0..<headerCount]
        where !HTTPSyntax.isToken(UnsafeRawBufferPointer(start: input.base + Int(header.nameStart), count: Int(header.nameCount))) {
            return -1  // 400
        }
        let declared = parser.pointee.content_length
        if declared != UInt64.max && declared > UInt64(loop.limits.maxBodyBytes) {
            rejection = 413
            return -1
        }
        bodyStart = input.count
        state.headersEnded()
        deadline = uv_now(loop.loop) + UInt64(loop.limits.bodyTimeoutMilliseconds)
        return 0
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard input.count - bodyStart + bytes.count <= loop.limits.maxBodyBytes else {
            rejection = 413
            return -1
        }
        input.append(bytes)
        return 0
    }

    func messageComplete() -> Int32 {
        state.requestEnded(keepAlive: http_should_keep_alive(parser) != 0 && !loop.draining)
        deadline = 0
        let before = output.count
        dispatchRequest()
        requestURLCount = urlCount
        urlCount = 0  // a later request's error before its URL arrives is not this one's path
        if state.awaiting {
            deadline = 0
            http_parser_pause(parser, 1)  // the next request waits for this one's response
            return 0
        }
        if output.count == before && !state.streaming { writeError(.noResponse) }
        loop.stats.latency.observe(microseconds: Int64((uv_hrtime() - startedAt) / 1_000))
        if state.closeAfterWrite || state.streaming {
            http_parser_pause(parser, 1)  // nothing after this request is read as a request
        }
        return 0
    }

    /// Hands the request in `input` to the router.
    private func dispatchRequest() {
        let method = HTTPMethod(rawValue: parser.pointee.method) ?? .other
        let url = input.slice(0..<urlCount)
        let questionMark = url.firstIndex(of: UInt8(ascii: "?"))
        let request = Request(
            method: method,
            path: UnsafeRawBufferPointer(rebasing: url[..<(questionMark ?? url.count)]),
            query: questionMark.map { UnsafeRawBufferPointer(rebasing: url[($0 + 1)...]) } ?? UnsafeRawBufferPointer(start: nil, count: 0),
            body: input.slice(bodyStart..<input.count),
            peer: peer,
            buffer: UnsafeRawPointer(input.base),
            headers: UnsafeBufferPointer(rebasing: headers[0..<headerCount]))
        loop.router.dispatch(request, writer(isHead: method == .head))
    }

    /// Answers an error in the shape of the route group the request's path (as far as it arrived)
    /// belongs to.
    private func writeError(_ error: HTTPError) {
        let url = input.slice(0..<min(urlCount, input.count))
        let path = UnsafeRawBufferPointer(rebasing: url[..<(url.firstIndex(of: UInt8(ascii: "?")) ?? url.count)])
        loop.router.errors(for: path)(error, writer(isHead: false))
    }

    private func writer(isHead: Bool) -> ResponseWriter {
        ResponseWriter(output: output, context: loop, connection: self, isHead: isHead, closesConnection: state.closeAfterWrite)
    }

    // MARK: - Event streams

    /// Called while the request is dispatched: the first frame is written now and goes out with
    /// the read's one write.
    func startStream(_ tick: @escaping EventStreamTick) {
        streamTick = tick
        state.streamStarted()
        deadline = 0  // a stream is not idle
        runStreamTick()
    }

    /// A tick of the sweep timer: the stream's next frames, written at once. Skipped while a write
    /// is in flight, so a slow client gets fewer frames rather than a growing buffer.
    func tickStream() {
        guard !state.writing, !state.closing else { return }
        runStreamTick()
        flush()
    }

    /// Writes what the stream's tick has to say (a heartbeat after 15 s of quiet); ends the stream
    /// with its last chunk when the tick says so or the server is stopping.
    private func runStreamTick() {
        guard let tick = streamTick else { return }
        var events = EventStreamWriter(output: output, scratch: loop.scratch)
        let before = output.count
        let goOn = tick(&events) && !loop.draining
        if output.count == before && ticksSinceWrite >= 59 { events.heartbeat() }  // 60 ticks: 15 s
        ticksSinceWrite = output.count == before ? ticksSinceWrite + 1 : 0
        if !goOn {
            streamTick = nil
            state.streamEnded()
            output.append("0\r\n\r\n")  // the last chunk
        }
    }

    // MARK: - Writing

    /// Writes everything pending in one write, then closes if asked to.
    func flush() {
        guard !state.writing, !state.closing else { return }
        guard output.count > 0 else {
            if state.closesOnceWritten { close() }
            return
        }
        var buffer = uv_buf_t(base: output.base.assumingMemoryBound(to: CChar.self), len: output.count)
        let written = Int(uv_try_write(stream, &buffer, 1))
        if written == output.count {
            output.removeAll()
            wrote()
            return
        }
        if written < 0 && written != Int(UV_EAGAIN.rawValue) {
            close()
            return
        }
        output.removeFirst(max(0, written))
        state.writeStarted()
        updateReading()
        buffer = uv_buf_t(base: output.base.assumingMemoryBound(to: CChar.self), len: output.count)
        uv_write(writeRequest, stream, &buffer, 1, onWrite)
    }

    func writeFinished(status: Int32) {
        state.writeFinished()
        guard !state.closing else { return }
        guard status == 0 else {
            close()
            return
        }
        output.removeAll()
        wrote()
        updateReading()
    }

    private func wrote() {
        if state.closesOnceWritten {
            close()
            return
        }
        // Give back what a large request or response needed, so idle connections stay small.
        if state.phase == .idle {
            input.shrink(to: 16 * 1024)
            output.shrink(to: 16 * 1024)
        }
    }

    // MARK: - Timeouts, drain, close

    /// The sweep found this connection past its deadline.
    func timedOut() {
        deadline = 0
        guard state.phase != .idle, !state.writing else {
            close()
            return
        }
        // A request started but did not arrive in time: tell the client, then close.
        loop.stats.timedOut()
        state.failed()
        writeError(.requestTimeout)
        flush()
        updateReading()
    }

    /// Between requests, with nothing to write: what the drain's idle deadline closes.
    var isIdle: Bool { state.isIdle && output.count == 0 }

    /// Idle, and no request waits unread in the socket: what the drain may close without resetting
    /// a request (one already in the kernel's buffer is read and answered with `Connection: close`).
    var isIdleWithNothingUnread: Bool {
        guard isIdle else { return false }
        var fd = uv_os_fd_t()
        guard uv_fileno(handle(tcp), &fd) == 0 else { return true }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
    }

    /// Shutdown: a busy connection closes after the response to its request in progress, which
    /// says `Connection: close`; a stream ends with its last chunk. An idle one stays open until
    /// the drain's idle deadline (`EventLoop.beginDrain`): a busy keep-alive client whose next
    /// request is already on its way gets it answered, with `Connection: close` (`messageComplete`),
    /// instead of a reset.
    func drain() {
        if state.streaming {
            tickStream()
        } else {
            state.drained(outputPending: output.count > 0)
        }
    }

    func close() {
        guard !state.closing else { return }
        state.closed()
        loop.remove(self)
        uv_close(handle(tcp), onClose)
    }

    private func peerAddress() -> PeerAddress {
        var address = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(tcp, $0, &length) }
        }
        guard status == 0 else { return .unknown }
        return withUnsafeBytes(of: address) { raw -> PeerAddress in
            switch Int32(raw.load(as: sa_family_t.self)) {
            case AF_INET:  // sockaddr_in: family, port, then 4 address bytes
                return PeerAddress(ipv4: raw[4], raw[5], raw[6], raw[7])
            case AF_INET6:  // sockaddr_in6: family, port, flowinfo, then 16 address bytes
                return PeerAddress(ipv6: UnsafeRawBufferPointer(rebasing: raw[8..<24]))
            default:
                return .unknown
            }
        }
    }
}

// MARK: - C callbacks

private func connection(_ data: UnsafeMutableRawPointer?) -> Unmanaged<Connection> {
    Unmanaged<Connection>.fromOpaque(data!)
}

private func allocateReadBuffer(_ handle: UnsafeMutablePointer<uv_handle_t>?, _ suggested: Int, _ buffer: UnsafeMutablePointer<uv_buf_t>?) {
    connection(handle!.pointee.data)._withUnsafeGuaranteedRef { connection in
        buffer!.pointee = uv_buf_t(
            base: connection.loop.readBuffer.assumingMemoryBound(to: CChar.self), len: EventLoop.readBufferSize)
    }
}

private func onRead(_ stream: UnsafeMutablePointer<uv_stream_t>?, _ count: Int, _ buffer: UnsafePointer<uv_buf_t>?) {
    connection(stream!.pointee.data)._withUnsafeGuaranteedRef { connection in
        if count > 0 {
            connection.received(UnsafeRawBufferPointer(start: buffer!.pointee.base, count: count))
        } else if count < 0 {
            connection.endOfInput(count)
        }
    }
}

private func onWrite(_ request: UnsafeMutablePointer<uv_write_t>?, _ status: Int32) {
    connection(request!.pointee.handle.pointee.data)._withUnsafeGuaranteedRef { $0.writeFinished(status: status) }
}

private func onClose(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    connection(handle!.pointee.data).release()
}

private func parserConnection(_ parser: UnsafeMutablePointer<http_parser>?) -> Unmanaged<Connection> {
    Unmanaged<Connection>.fromOpaque(parser!.pointee.data)
}

private func bytes(_ at: UnsafePointer<CChar>?, _ length: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: at, count: length)
}

/// http_parser's callbacks: each forwards to the connection the parser belongs to.
nonisolated(unsafe) private var parserCallbacks: http_parser_settings = {
    var settings = http_parser_settings()
    settings.on_message_begin = { parserConnection($0)._withUnsafeGuaranteedRef { $0.messageBegin() } }
    settings.on_url = { parser, at, length in parserConnection(parser)._withUnsafeGuaranteedRef { $0.url(bytes(at, length)) } }
    settings.on_header_field = { parser, at, length in
        parserConnection(parser)._withUnsafeGuaranteedRef { $0.headerName(bytes(at, length)) }
    }
    settings.on_header_value = { parser, at, length in
        parserConnection(parser)._withUnsafeGuaranteedRef { $0.headerValue(bytes(at, length)) }
    }
    settings.on_headers_complete = { parserConnection($0)._withUnsafeGuaranteedRef { $0.headersComplete() } }
    settings.on_body = { parser, at, length in parserConnection(parser)._withUnsafeGuaranteedRef { $0.body(bytes(at, length)) } }
    settings.on_message_complete = { parserConnection($0)._withUnsafeGuaranteedRef { $0.messageComplete() } }
    return settings
}()
