import CHiredis
import CLibUV
import CReplyArena

/// One hiredis async connection, attached to one libuv loop (hiredis' libuv adapter) and used only
/// from that loop's thread.
///
/// Commands go out as RESP the caller formats (`RESPWriter`); hiredis writes everything queued in
/// one loop iteration together. Replies arrive in order, so each command's tag waits in a FIFO and
/// `onReply` gets (tag, reply) — no closure or box per command. When the connection drops, every
/// command still waiting gets a nil reply (its outcome is unknown to us: the caller must not
/// acknowledge it), and the connection retries with exponential backoff (50 ms doubling to 2 s).
/// A Redis that stops answering (paused, overloaded, a dead peer that never resets) is given up on
/// when the oldest command waits longer than `commandTimeoutMilliseconds`.
public final class RedisConnection {
    public enum State: Equatable, Sendable { case connecting, ready, down }

    public let host: String
    public let port: Int
    public private(set) var state = State.down
    /// Commands sent and not yet answered.
    public var inFlight: Int { pending.count }

    /// Called with each command's tag and its reply (nil when the connection dropped first). The
    /// reply is valid only during the call.
    public var onReply: (UInt64, RedisReply?) -> Void = { _, _ in }
    /// Called whenever `state` changes.
    public var onStateChange: (State) -> Void = { _ in }
    /// A command unanswered this long drops the connection (its waiting commands get nil replies).
    public var commandTimeoutMilliseconds: UInt64 = 1_000

    private let loop: UnsafeMutablePointer<uv_loop_t>
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private let retryTimer: UnsafeMutablePointer<uv_timer_t>
    private let watchdog: UnsafeMutablePointer<uv_timer_t>
    private var backoffMilliseconds: UInt64 = RedisConnection.firstBackoff
    private var pending = TagQueue()
    /// Where hiredis builds replies: a batch's verdicts cost no malloc per vote.
    private let replies: OpaquePointer
    private var stopped = false
    private static let firstBackoff: UInt64 = 50
    private static let maxBackoff: UInt64 = 2_000

    /// Connects at once (asynchronously) on `loop`, which must be the calling thread's.
    public init(host: String, port: Int, loop: UnsafeMutablePointer<uv_loop_t>) {
        self.host = host
        self.port = port
        self.loop = loop
        retryTimer = .allocate(capacity: 1)
        watchdog = .allocate(capacity: 1)
        replies = reply_arena_create(RedisConnection.replyArenaBytes)!
        uv_timer_init(loop, retryTimer)
        uv_timer_init(loop, watchdog)
        retryTimer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        watchdog.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_start(watchdog, onWatchdog, 100, 100)
        connect()
    }

    deinit {
        retryTimer.deallocate()
        watchdog.deallocate()
        reply_arena_destroy(replies)
    }

    /// ~90 bytes per vote verdict: a batch of ~2 800 votes fits; a larger reply spills to malloc.
    private static let replyArenaBytes = 256 * 1024

    /// Reply pieces that did not fit the arena and were malloc'd.
    public var replySpills: Int { reply_arena_spills(replies) }

    /// Sends one formatted command; `tag` comes back with its reply. False when not connected (the
    /// caller answers 503 and does not wait).
    @discardableResult
    public func send(_ command: UnsafeRawBufferPointer, tag: UInt64) -> Bool {
        guard state == .ready, let context else { return false }
        let status = command.withMemoryRebound(to: CChar.self) { chars in
            redisAsyncFormattedCommand(context, onCommandReply, nil, chars.baseAddress, chars.count)
        }
        guard status == REDIS_OK else { return false }
        pending.push(tag, sentAt: uv_now(loop))
        return true
    }

    /// The earliest moment (`uv_now` milliseconds) at which a command sent now may be given up
    /// on: the watchdog drops the connection when its oldest waiting command is
    /// `commandTimeoutMilliseconds` old, and that is this one or an older one.
    public var earliestGiveUp: UInt64 { (pending.oldestSentAt ?? uv_now(loop)) + commandTimeoutMilliseconds }

    /// Writes what `send` queued now, instead of when the loop next polls: the end of a loop
    /// iteration is the moment to send a batch.
    public func writeNow() {
        if state == .ready, let context { LibuvAdapter.write(context) }
    }

    /// Closes the connection for good (waiting commands get nil replies) and the retry timer;
    /// `closed` runs when libuv has let go of both.
    public func stop() {
        stopped = true
        uv_timer_stop(retryTimer)
        uv_close(UnsafeMutablePointer<uv_handle_t>(OpaquePointer(retryTimer)), nil)
        uv_close(UnsafeMutablePointer<uv_handle_t>(OpaquePointer(watchdog)), nil)
        if let context { redisAsyncDisconnect(context) }
    }

    // MARK: - Connection lifecycle (hiredis callbacks)

    private func connect() {
        guard !stopped else { return }
        guard let context = redisAsyncConnect(host, Int32(port)) else {
            scheduleRetry()
            return
        }
        guard context.pointee.err == 0 else {
            redisAsyncFree(context)
            scheduleRetry()
            return
        }
        self.context = context
        context.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        reply_arena_attach(context.pointee.c.reader, replies)
        guard LibuvAdapter.attach(context, to: loop) else {
            redisAsyncFree(context)
            scheduleRetry()
            return
        }
        redisAsyncSetConnectCallback(context, onConnect)
        redisAsyncSetDisconnectCallback(context, onDisconnect)
        change(to: .connecting)
    }

    fileprivate func connected(status: Int32) {
        if status == REDIS_OK {
            backoffMilliseconds = RedisConnection.firstBackoff
            change(to: .ready)
        } else {
            context = nil  // hiredis frees a context whose connect failed
            failWaitingCommands()
            scheduleRetry()
        }
    }

    fileprivate func disconnected() {
        guard context != nil else { return }  // already given up on (checkTimeout)
        context = nil  // hiredis frees the context after this callback
        failWaitingCommands()
        scheduleRetry()
    }

    fileprivate func replied(_ reply: UnsafeMutableRawPointer?) {
        guard let tag = pending.pop() else { return }
        onReply(tag, reply.map { RedisReply(UnsafeMutablePointer<redisReply>(OpaquePointer($0))) })
    }

    fileprivate func retry() { connect() }

    /// Every 100 ms: give up on a connection whose oldest command waited too long.
    fileprivate func checkTimeout() {
        guard let oldest = pending.oldestSentAt, uv_now(loop) - oldest >= commandTimeoutMilliseconds,
            let context
        else { return }
        self.context = nil
        redisAsyncFree(context)  // waiting commands' callbacks get nil replies
        failWaitingCommands()
        scheduleRetry()
    }

    private func failWaitingCommands() {
        // hiredis calls each waiting command's callback with a nil reply as it tears down; this
        // catches any it did not.
        while let tag = pending.pop() { onReply(tag, nil) }
    }

    private func scheduleRetry() {
        change(to: .down)
        guard !stopped else { return }
        uv_timer_start(retryTimer, onRetryTimer, backoffMilliseconds, 0)
        backoffMilliseconds = min(backoffMilliseconds * 2, RedisConnection.maxBackoff)
    }

    private func change(to newState: State) {
        guard newState != state else { return }
        state = newState
        onStateChange(newState)
    }
}

/// A FIFO of command tags and when each was sent: a ring that grows by doubling and never shrinks
/// (no allocation in steady state).
struct TagQueue {
    private var tags = [UInt64](repeating: 0, count: 64)
    private var sentAt = [UInt64](repeating: 0, count: 64)
    private var head = 0
    private(set) var count = 0

    var oldestSentAt: UInt64? { count > 0 ? sentAt[head] : nil }

    mutating func push(_ tag: UInt64, sentAt time: UInt64) {
        if count == tags.count {
            let order = (0..<count).map { (head + $0) % tags.count }
            tags = order.map { tags[$0] } + [UInt64](repeating: 0, count: count)
            sentAt = order.map { sentAt[$0] } + [UInt64](repeating: 0, count: count)
            head = 0
        }
        let slot = (head + count) % tags.count
        tags[slot] = tag
        sentAt[slot] = time
        count += 1
    }

    mutating func pop() -> UInt64? {
        guard count > 0 else { return nil }
        let tag = tags[head]
        head = (head + 1) % tags.count
        count -= 1
        return tag
    }
}

// MARK: - C callbacks

private func connection(_ context: UnsafePointer<redisAsyncContext>?) -> RedisConnection? {
    guard let data = context?.pointee.data else { return nil }
    return Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
}

private func onConnect(_ context: UnsafePointer<redisAsyncContext>?, _ status: Int32) {
    connection(context)?.connected(status: status)
}

private func onDisconnect(_ context: UnsafePointer<redisAsyncContext>?, _ status: Int32) {
    connection(context)?.disconnected()
}

private func onCommandReply(_ context: UnsafeMutablePointer<redisAsyncContext>?, _ reply: UnsafeMutableRawPointer?, _ privdata: UnsafeMutableRawPointer?) {
    connection(context.map { UnsafePointer($0) })?.replied(reply)
}

private func onWatchdog(_ timer: UnsafeMutablePointer<uv_timer_t>?) {
    guard let data = timer?.pointee.data else { return }
    Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue().checkTimeout()
}

private func onRetryTimer(_ timer: UnsafeMutablePointer<uv_timer_t>?) {
    guard let data = timer?.pointee.data else { return }
    Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue().retry()
}
