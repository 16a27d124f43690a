import CHTTPParser
import CLibUV
import TallyBase
import TallyHTTP

/// One keep-alive connection of the load generator: one request in flight at a time, its answer
/// parsed by http_parser (so chunked or proxied answers work too).
final class LoadConnection {
    /// What is in flight: when the generator's clock released it (ns, `uv_hrtime`), by whom, for what.
    struct InFlight {
        var releasedAt: UInt64
        var voter: Int
        var poll: Int
        var choice: Int
    }

    let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    private let connectRequest = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
    private let writeRequest = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    private let parser = UnsafeMutablePointer<http_parser>.allocate(capacity: 1)
    /// The request being written (kept until libuv is done with it) and the read buffer.
    let request = ByteBuffer(capacity: 1024)
    let readBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 64 * 1024)
    var inFlight: InFlight?
    private(set) var isOpen = false
    /// Status of the answer that just completed (set by http_parser's callback).
    fileprivate var completedStatus: Int?
    private unowned let generator: LoadGenerator

    init(generator: LoadGenerator) {
        self.generator = generator
    }

    deinit {
        tcp.deallocate()
        connectRequest.deallocate()
        writeRequest.deallocate()
        parser.deallocate()
        readBuffer.deallocate()
    }

    func open(loop: UnsafeMutablePointer<uv_loop_t>, address: UnsafePointer<sockaddr>) {
        uv_tcp_init(loop, tcp)
        uv_tcp_nodelay(tcp, 1)
        tcp.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        http_parser_init(parser, HTTP_RESPONSE)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        connectRequest.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_tcp_connect(connectRequest, tcp, address) { request, status in
            let connection = Unmanaged<LoadConnection>.fromOpaque(request!.pointee.data).takeUnretainedValue()
            connection.connected(status == 0)
        }
    }

    private func connected(_ success: Bool) {
        guard success else { return fail() }
        isOpen = true
        uv_read_start(stream, { handle, _, buffer in
            let connection = Unmanaged<LoadConnection>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            buffer!.pointee = uv_buf_init(UnsafeMutableRawPointer(connection.readBuffer).assumingMemoryBound(to: CChar.self), 64 * 1024)
        }, { stream, count, _ in
            let connection = Unmanaged<LoadConnection>.fromOpaque(stream!.pointee.data).takeUnretainedValue()
            connection.read(count)
        })
        generator.becameIdle(self)
    }

    /// Writes the request in `request` for `inFlight`: straight to the socket when it takes it all
    /// (the usual case), else through libuv's write queue. A completed `uv_write` costs an
    /// `epoll_ctl` per request, on the core the server under test shares.
    func send(_ vote: InFlight) {
        inFlight = vote
        var buffer = uv_buf_init(request.base.assumingMemoryBound(to: CChar.self), UInt32(request.count))
        let written = Int(uv_try_write(stream, &buffer, 1))
        if written == request.count { return }
        if written < 0 && written != Int(UV_EAGAIN.rawValue) { return fail() }
        request.removeFirst(max(0, written))
        buffer = uv_buf_init(request.base.assumingMemoryBound(to: CChar.self), UInt32(request.count))
        writeRequest.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let status = uv_write(writeRequest, stream, &buffer, 1) { request, status in
            guard status != 0 else { return }
            Unmanaged<LoadConnection>.fromOpaque(request!.pointee.data).takeUnretainedValue().fail()
        }
        if status != 0 { fail() }
    }

    func close() {
        guard uv_is_closing(handle) == 0 else { return }
        isOpen = false
        uv_close(handle, nil)
    }

    private var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self) }
    private var handle: UnsafeMutablePointer<uv_handle_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self) }

    private func read(_ count: Int) {
        guard count > 0 else {
            if count < 0 { fail() }
            return
        }
        let parsed = readBuffer.withMemoryRebound(to: CChar.self, capacity: count) {
            http_parser_execute(parser, &responseCallbacks, $0, count)
        }
        if parsed != count { return fail() }
        if let status = completedStatus, let request = inFlight {
            completedStatus = nil
            inFlight = nil
            generator.answered(request, status: status, by: self)
        }
    }

    /// The connection broke: the request in flight has no answer; a new connection replaces it.
    private func fail() {
        let request = inFlight
        let wasOpen = isOpen
        inFlight = nil
        close()
        generator.lost(self, request: request, wasOpen: wasOpen)
    }
}

private nonisolated(unsafe) var responseCallbacks: http_parser_settings = {
    var settings = http_parser_settings()
    settings.on_message_complete = { parser in
        let connection = Unmanaged<LoadConnection>.fromOpaque(parser!.pointee.data).takeUnretainedValue()
        connection.completedStatus = Int(parser!.pointee.status_code)
        return 0
    }
    return settings
}()
