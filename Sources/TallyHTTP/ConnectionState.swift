/// What a connection is doing, as one value with no sockets in it: the request being read, the
/// answer it waits for, the write in flight, and how it ends. `Connection` reports every event here
/// and then calls its one `updateReading()`, which starts or stops libuv's reading to match
/// `wantsReading`. (SwiftNIO's `HTTPServerPipelineHandler` keeps its state the same way.)
struct ConnectionState {
    /// Where the connection is in reading a request.
    enum Phase: Equatable {
        case idle
        /// The request line and headers are arriving (the header deadline runs).
        case head
        /// The body is arriving (the body deadline runs).
        case body
    }

    private(set) var phase = Phase.idle
    /// Reading was started (a refused connection never reads).
    private(set) var started = false
    /// A deferred answer is outstanding (a vote waiting for Redis); what arrives meanwhile is held.
    private(set) var awaiting = false
    /// The connection streams Server-Sent Events.
    private(set) var streaming = false
    /// A `uv_write` is in flight: `output` must not move, and a client that does not read its
    /// answers cannot make us buffer more.
    private(set) var writing = false
    /// The bytes held behind an outstanding answer reached their limit; reading waits until they
    /// are parsed.
    private(set) var heldFull = false
    /// Nothing more is read: the client closed its sending side, the read failed, or an error
    /// answer (400, 408, 413, 431, 503 full) is the last thing this connection says.
    private(set) var inputDone = false
    /// Close once the answers in hand are written (keep-alive off, a final error, a drain).
    private(set) var closeAfterWrite = false
    private(set) var closing = false

    /// libuv should be reading from the socket.
    var wantsReading: Bool { started && !closing && !inputDone && !writing && !heldFull }

    /// Everything owed is answered and the connection should close now that its output is written.
    /// A drain lets the request in progress arrive and be answered first.
    var closesOnceWritten: Bool { closeAfterWrite && !awaiting && (phase == .idle || inputDone) }

    /// Between requests with nothing outstanding (the caller adds: nothing left to write).
    var isIdle: Bool { phase == .idle && !writing && !awaiting && !streaming }

    // MARK: - Events

    mutating func accepted() { started = true }

    /// The loop is full, a request could not be parsed, or a request timed out: its error answer
    /// is the last thing written.
    mutating func failed() {
        inputDone = true
        closeAfterWrite = true
    }

    mutating func requestBegan() { phase = .head }

    mutating func headersEnded() { phase = .body }

    /// A request arrived whole; `keepAlive` is false when the client asked for a close or the server
    /// drains.
    mutating func requestEnded(keepAlive: Bool) {
        phase = .idle
        if !keepAlive { closeAfterWrite = true }
    }

    mutating func deferred() {
        precondition(!awaiting, "one deferred answer at a time")
        awaiting = true
    }

    mutating func heldFilled() { heldFull = true }

    /// The deferred answer is being written.
    mutating func answered() { awaiting = false }

    /// The held bytes were parsed, as far as a new deferred answer let them be.
    mutating func heldParsed() {
        guard !awaiting else { return }
        heldFull = false
        // The client stopped sending while it waited: everything it sent is now answered.
        if inputDone { closeAfterWrite = true }
    }

    mutating func streamStarted() { streaming = true }

    mutating func streamEnded() {
        streaming = false
        closeAfterWrite = true
    }

    mutating func writeStarted() { writing = true }

    mutating func writeFinished() { writing = false }

    /// The read ended: `UV_EOF` (`cleanly`: the client may still read, so a pending answer and the
    /// requests held behind it are answered) or an error. True when the connection closes now.
    mutating func inputEnded(cleanly: Bool) -> Bool {
        inputDone = true
        if awaiting && cleanly { return false }
        if writing {
            closeAfterWrite = true
            return false
        }
        return true
    }

    /// Shutdown: a busy connection (`outputPending` counts as busy) closes after its request in
    /// progress is answered; an idle one is left to the drain's idle deadline.
    mutating func drained(outputPending: Bool) {
        if outputPending || !isIdle { closeAfterWrite = true }
    }

    mutating func closed() { closing = true }
}
