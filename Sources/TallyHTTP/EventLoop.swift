
#if canImport(Glibc)
import CHTTPParser
import CLibUV
import Glibc
import TallyBase
#endif

/// One libuv loop on its own thread, with its own SO_REUSEPORT listener, its own router and its
/// own connections. Everything here is touched by that thread only, except `requestStop()`
/// (`uv_async_send` is thread-safe) and the relaxed-atomic `stats`.
final class EventLoop {
    let index: Int
    let limits: HTTPLimits
    private(set) var router: Router!
    let context: LoopContext
    let stats = LoopStats()
    /// Connections this loop accepts; beyond, new ones get 503.
    let maxConnections: Int

    let loop: UnsafeMutablePointer<uv_loop_t>
    private let listener: UnsafeMutablePointer<uv_tcp_t>
    private let sweepTimer: UnsafeMutablePointer<uv_timer_t>
    private let stopSignal: UnsafeMutablePointer<uv_async_t>

    /// Reads land here: a read is consumed before the next one, so one buffer serves all connections.
    static let readBufferSize = 64 * 1024
    let readBuffer: UnsafeMutableRawPointer
    /// Body builder for responses (`ResponseWriter.scratch`).
    let scratch = ByteBuffer(capacity: 4 * 1024)
    /// `Date: …\r\n`, refreshed by the sweep timer.
    let dateHeader = ByteBuffer(capacity: 64)

    private(set) var connections: [Connection] = []
    private(set) var draining = false
    private var finished = false
    private var drainDeadline: UInt64 = 0
    /// While draining, connections idle at this moment are closed (`beginDrain`).
    private var drainIdleDeadline: UInt64 = 0
    /// How long idle connections stay open once draining starts: long enough for a request a busy
    /// client sent as draining began to arrive, short enough for truly idle ones to go at once.
    static let drainIdleMilliseconds: UInt64 = 500
    private var thread = pthread_t()

    /// Binds the listener (on the calling thread, before the loop runs, so errors surface at start).
    init(
        index: Int, host: String, port: Int, limits: HTTPLimits, maxConnections: Int, makeRouter: (LoopContext) -> Router
    ) throws(HTTPServerError) {
        self.index = index
        self.limits = limits
        self.maxConnections = maxConnections
        loop = .allocate(capacity: 1)
        context = LoopContext(index: index, uvLoop: loop)
        listener = .allocate(capacity: 1)
        sweepTimer = .allocate(capacity: 1)
        stopSignal = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: EventLoop.readBufferSize, alignment: 64)
        uv_loop_init(loop)
        refreshDate()

        var address = sockaddr_storage()
        let family = try EventLoop.resolve(host: host, port: port, into: &address)
        try EventLoop.check(uv_tcp_init_ex(loop, listener, UInt32(family)), "create socket")
        var fd = uv_os_fd_t()
        uv_fileno(handle(listener), &fd)
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size))
        try withUnsafePointer(to: &address) { pointer throws(HTTPServerError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddr throws(HTTPServerError) in
                try EventLoop.check(uv_tcp_bind(listener, sockaddr, 0), "bind \(host):\(port)")
            }
        }
        listener.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        try EventLoop.check(uv_listen(stream(listener), 1024, onConnection), "listen on \(host):\(port)")

        uv_timer_init(loop, sweepTimer)
        sweepTimer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_start(sweepTimer, onSweep, 250, 250)
        uv_async_init(loop, stopSignal, onStopSignal)
        stopSignal.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        router = makeRouter(context)
    }

    deinit {
        uv_loop_close(loop)
        loop.deallocate()
        listener.deallocate()
        sweepTimer.deallocate()
        stopSignal.deallocate()
        readBuffer.deallocate()
    }

    /// The port the listener is bound to.
    var boundPort: Int {
        var address = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = uv_tcp_getsockname(listener, $0, &length) }
        }
        return Int(UInt16(bigEndian: withUnsafeBytes(of: address) { $0.load(fromByteOffset: 2, as: UInt16.self) }))
    }

    // MARK: - Thread

    func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { context in
            let loop = Unmanaged<EventLoop>.fromOpaque(context!).takeRetainedValue()
            uv_run(loop.loop, UV_RUN_DEFAULT)
            return nil
        }, context)
    }

    /// Asks the loop to drain and stop; safe from any thread.
    func requestStop() { uv_async_send(stopSignal) }

    func join() { pthread_join(thread, nil) }

    // MARK: - Connections

    func accept() {
        let connection = Connection(loop: self, slot: connections.count)
        guard uv_accept(stream(listener), connection.stream) == 0 else {
            connection.close()
            return
        }
        adopt(connection)
    }

    private func adopt(_ connection: Connection) {
        connections.append(connection)
        stats.opened()
        connection.begin(rejectWith503: connections.count > maxConnections)
    }

    /// Takes the connections the kernel has completed on the listener but nobody accepted yet:
    /// closing the listener would reset them, and their clients' first request with them.
    private func acceptBacklog() {
        var fd = uv_os_fd_t()
        guard uv_fileno(handle(listener), &fd) == 0 else { return }
        while true {
            let client = Glibc.accept(fd, nil, nil)  // the listener is non-blocking: EAGAIN when none is left
            guard client >= 0 else { return }
            let connection = Connection(loop: self, slot: connections.count)
            guard uv_tcp_open(connection.tcp, client) == 0 else {  // (makes it non-blocking)
                Glibc.close(client)
                connection.close()
                continue
            }
            adopt(connection)
        }
    }

    /// Forgets a closed connection (swap-remove).
    func remove(_ connection: Connection) {
        let slot = connection.slot
        guard slot < connections.count, connections[slot] === connection else { return }
        let last = connections.removeLast()
        if slot < connections.count {
            connections[slot] = last
            last.slot = slot
        }
        stats.closed()
        if draining && connections.isEmpty { finish() }
    }

    /// Every 250 ms: the Date header, request timeouts, idle keep-alive connections, the drain, and
    /// what other modules asked for (`LoopContext.onSweep`).
    func sweep() {
        refreshDate()
        context.swept()
        let now = uv_now(loop)
        if draining && now >= drainDeadline {
            for connection in connections { connection.close() }
            return
        }
        if draining && now >= drainIdleDeadline {
            for connection in connections where connection.isIdleWithNothingUnread { connection.close() }
        }
        for connection in connections {
            if connection.isStreaming {
                connection.tickStream()
            } else if connection.deadline != 0 && now >= connection.deadline {
                connection.timedOut()
            }
        }
    }

    /// Stop accepting; from now on every answer says `Connection: close` and its connection closes
    /// after it; connections still idle after `drainIdleMilliseconds` are closed.
    func beginDrain() {
        guard !draining else { return }
        draining = true
        drainDeadline = uv_now(loop) + UInt64(limits.drainTimeoutMilliseconds)
        drainIdleDeadline = uv_now(loop) + EventLoop.drainIdleMilliseconds
        acceptBacklog()
        uv_close(handle(listener), nil)
        for connection in connections { connection.drain() }
        if connections.isEmpty { finish() }
    }

    /// Closes the loop's own handles once the last connection is gone; uv_run then returns.
    private func finish() {
        guard !finished else { return }
        finished = true
        uv_close(handle(sweepTimer), nil)
        uv_close(handle(stopSignal), nil)
        context.stopped()
    }

    private func refreshDate() {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text in
            let length = strftime(text.baseAddress!, 64, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &parts)
            dateHeader.removeAll()
            dateHeader.append(text.baseAddress!, length: length)
        }
    }

    // MARK: - Setup helpers

    private static func resolve(host: String, port: Int, into address: inout sockaddr_storage) throws(HTTPServerError) -> Int32 {
        let status = withUnsafeMutablePointer(to: &address) { pointer -> Int32 in
            if uv_ip4_addr(host, Int32(port), UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: sockaddr_in.self)) == 0 {
                return AF_INET
            }
            if uv_ip6_addr(host, Int32(port), UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: sockaddr_in6.self)) == 0 {
                return AF_INET6
            }
            return -1
        }
        guard status >= 0 else { throw HTTPServerError(message: "'\(host)' is not an IPv4 or IPv6 address") }
        return status
    }

    private static func check(_ status: Int32, _ action: String) throws(HTTPServerError) {
        guard status == 0 else { throw HTTPServerError(message: "\(action): \(String(cString: uv_strerror(status)))") }
    }
}

/// Why the server could not start.
public struct HTTPServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

// MARK: - libuv casts and callbacks (top-level C functions)

func handle<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutablePointer<uv_handle_t>(OpaquePointer(pointer))
}

func stream<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutablePointer<uv_stream_t>(OpaquePointer(pointer))
}

private func eventLoop(_ data: UnsafeMutableRawPointer?) -> EventLoop {
    Unmanaged<EventLoop>.fromOpaque(data!).takeUnretainedValue()
}

private func onConnection(_ server: UnsafeMutablePointer<uv_stream_t>?, _ status: Int32) {
    guard status == 0 else { return }
    eventLoop(server!.pointee.data).accept()
}

private func onSweep(_ timer: UnsafeMutablePointer<uv_timer_t>?) {
    eventLoop(timer!.pointee.data).sweep()
}

private func onStopSignal(_ signal: UnsafeMutablePointer<uv_async_t>?) {
    eventLoop(signal!.pointee.data).beginDrain()
}
