import CHiredis
import CLibUV

/// Attaches a hiredis async context to a libuv loop: hiredis asks to start and stop watching for
/// reading and writing, and this polls the socket and tells hiredis when it can.
///
/// Why not hiredis' own `adapters/libuv.h`:
/// - In hiredis 0.14 (Debian 12) it ignores a poll callback that carries an error status. When
///   Redis dies with data unread (the peer resets the connection), epoll reports an error, libuv
///   stops the poll and reports `UV_EBADF`, the adapter drops it, and hiredis never learns the
///   connection is gone: commands wait forever. Here an error makes hiredis read, which finds the
///   failure and disconnects (newer hiredis adapters do the same).
/// - It watches for writability whenever hiredis has something to write, so every batch re-arms
///   the socket in epoll (libuv: three `epoll_ctl` calls per batch, one of them failing). Here,
///   once connected, queued commands are written before the loop next waits for I/O (a prepare
///   handle, or `write` at once); writability is watched only while connecting (that is how hiredis
///   learns the connection is up) or when the socket was full.
enum LibuvAdapter {
    struct State {
        var poll = uv_poll_t()
        var beforeWaiting = uv_prepare_t()
        /// What libuv watches on the socket.
        var watched: Int32 = 0
        var wantsRead = false
        var wantsWrite = false
        /// A write could not finish (socket full): wait until it is writable.
        var writeBlocked = false
        var context: UnsafeMutablePointer<redisAsyncContext>?

        /// The handles inside the heap-allocated state `state` (stable addresses for libuv).
        static func poll(_ state: UnsafeMutablePointer<State>) -> UnsafeMutablePointer<uv_poll_t> {
            (UnsafeMutableRawPointer(state) + MemoryLayout<State>.offset(of: \.poll)!).assumingMemoryBound(to: uv_poll_t.self)
        }

        static func beforeWaiting(_ state: UnsafeMutablePointer<State>) -> UnsafeMutablePointer<uv_prepare_t> {
            (UnsafeMutableRawPointer(state) + MemoryLayout<State>.offset(of: \.beforeWaiting)!).assumingMemoryBound(to: uv_prepare_t.self)
        }
    }

    /// Attaches `context` to `loop`; false if the socket cannot be polled.
    static func attach(_ context: UnsafeMutablePointer<redisAsyncContext>, to loop: UnsafeMutablePointer<uv_loop_t>) -> Bool {
        let state = UnsafeMutablePointer<State>.allocate(capacity: 1)
        state.initialize(to: State(context: context))
        guard uv_poll_init(loop, State.poll(state), context.pointee.c.fd) == 0 else {
            state.deallocate()
            return false
        }
        uv_prepare_init(loop, State.beforeWaiting(state))
        state.pointee.poll.data = UnsafeMutableRawPointer(state)
        state.pointee.beforeWaiting.data = UnsafeMutableRawPointer(state)
        uv_prepare_start(State.beforeWaiting(state)) { prepare in
            prepare?.pointee.data.map { writeQueued($0.assumingMemoryBound(to: State.self)) }
        }
        context.pointee.ev.data = UnsafeMutableRawPointer(state)
        context.pointee.ev.addRead = { want($0) { $0.wantsRead = true } }
        context.pointee.ev.delRead = { want($0) { $0.wantsRead = false } }
        context.pointee.ev.addWrite = { want($0) { $0.wantsWrite = true } }
        context.pointee.ev.delWrite = { want($0) { $0.wantsWrite = false; $0.writeBlocked = false } }
        context.pointee.ev.cleanup = { data in
            guard let state = data?.assumingMemoryBound(to: State.self) else { return }
            state.pointee.context = nil
            uv_poll_stop(State.poll(state))
            uv_prepare_stop(State.beforeWaiting(state))
            // The state holds both handles: free it once libuv has let go of the second.
            uv_close(UnsafeMutableRawPointer(State.beforeWaiting(state)).assumingMemoryBound(to: uv_handle_t.self)) { prepare in
                guard let state = prepare?.pointee.data?.assumingMemoryBound(to: State.self) else { return }
                uv_close(UnsafeMutableRawPointer(State.poll(state)).assumingMemoryBound(to: uv_handle_t.self)) { handle in
                    handle?.pointee.data?.assumingMemoryBound(to: State.self).deallocate()
                }
            }
        }
        return true
    }

    /// Writes what hiredis has queued for `context` now (the end of a loop iteration, when a batch
    /// is complete).
    static func write(_ context: UnsafeMutablePointer<redisAsyncContext>) {
        context.pointee.ev.data.map { writeQueued($0.assumingMemoryBound(to: State.self)) }
    }
}

/// Writes what hiredis has queued, if anything, unless it waits for writability; if the socket
/// takes only part, watches for writability until hiredis has written the rest.
private func writeQueued(_ state: UnsafeMutablePointer<LibuvAdapter.State>) {
    guard state.pointee.wantsWrite, !state.pointee.writeBlocked, let context = state.pointee.context, context.pointee.c.flags & REDIS_CONNECTED != 0 else { return }
    redisAsyncHandleWrite(context)  // calls delWrite when everything went out
    guard state.pointee.context != nil, state.pointee.wantsWrite else { return }
    state.pointee.writeBlocked = true
    rearm(state)
}

/// Applies a change hiredis asked for.
private func want(_ data: UnsafeMutableRawPointer?, _ change: (inout LibuvAdapter.State) -> Void) {
    guard let state = data?.assumingMemoryBound(to: LibuvAdapter.State.self) else { return }
    change(&state.pointee)
    rearm(state)
}

/// Watches what is needed now: reading if hiredis wants it; writability only while connecting or
/// after a write that could not finish.
private func rearm(_ state: UnsafeMutablePointer<LibuvAdapter.State>) {
    guard let context = state.pointee.context else { return }
    let connecting = context.pointee.c.flags & REDIS_CONNECTED == 0
    var events: Int32 = state.pointee.wantsRead ? Int32(UV_READABLE.rawValue) : 0
    if state.pointee.wantsWrite && (connecting || state.pointee.writeBlocked) { events |= Int32(UV_WRITABLE.rawValue) }
    guard events != state.pointee.watched else { return }
    state.pointee.watched = events
    if events == 0 {
        uv_poll_stop(LibuvAdapter.State.poll(state))
    } else {
        uv_poll_start(LibuvAdapter.State.poll(state), events, onPoll)
    }
}

private func onPoll(_ handle: UnsafeMutablePointer<uv_poll_t>?, _ status: Int32, _ ready: Int32) {
    guard let state = handle?.pointee.data?.assumingMemoryBound(to: LibuvAdapter.State.self) else { return }
    // An error: libuv has stopped the poll; let hiredis read (and write, if it wanted to), so that
    // it finds the failure.
    let events = status != 0 ? state.pointee.watched | Int32(UV_READABLE.rawValue) : ready
    if status != 0 { state.pointee.watched = 0 }
    if events & Int32(UV_READABLE.rawValue) != 0, let context = state.pointee.context { redisAsyncHandleRead(context) }
    if events & Int32(UV_WRITABLE.rawValue) != 0, let context = state.pointee.context { redisAsyncHandleWrite(context) }
    // Connected now (hiredis learned it from writability), or a write finished: watch again.
    rearm(state)
}
