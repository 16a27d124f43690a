import CHiredis
import CLibUV

/// Attaches a hiredis async context to a libuv loop: hiredis asks to start and stop watching for
/// reading and writing, and this polls the socket and tells hiredis when it can.
///
/// Why not hiredis' own `adapters/libuv.h`: in hiredis 0.14 (Debian 12) it ignores a poll callback
/// that carries an error status. When Redis dies with data unread (the peer resets the
/// connection), epoll reports an error, libuv stops the poll and reports `UV_EBADF`, the adapter
/// drops it, and hiredis never learns the connection is gone: commands wait forever. Here an error
/// makes hiredis read, which finds the failure and disconnects (newer hiredis adapters do the same).
enum LibuvAdapter {
    struct State {
        var poll = uv_poll_t()
        var events: Int32 = 0
        var context: UnsafeMutablePointer<redisAsyncContext>?

        /// The poll handle inside the heap-allocated state `state` (a stable address for libuv).
        static func poll(_ state: UnsafeMutablePointer<State>) -> UnsafeMutablePointer<uv_poll_t> {
            (UnsafeMutableRawPointer(state) + MemoryLayout<State>.offset(of: \.poll)!).assumingMemoryBound(to: uv_poll_t.self)
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
        state.pointee.poll.data = UnsafeMutableRawPointer(state)
        context.pointee.ev.data = UnsafeMutableRawPointer(state)
        context.pointee.ev.addRead = { watch($0, UV_READABLE.rawValue, on: true) }
        context.pointee.ev.delRead = { watch($0, UV_READABLE.rawValue, on: false) }
        context.pointee.ev.addWrite = { watch($0, UV_WRITABLE.rawValue, on: true) }
        context.pointee.ev.delWrite = { watch($0, UV_WRITABLE.rawValue, on: false) }
        context.pointee.ev.cleanup = { data in
            guard let state = data?.assumingMemoryBound(to: State.self) else { return }
            state.pointee.context = nil
            uv_poll_stop(State.poll(state))
            uv_close(UnsafeMutableRawPointer(State.poll(state)).assumingMemoryBound(to: uv_handle_t.self)) { handle in
                handle?.pointee.data?.assumingMemoryBound(to: State.self).deallocate()
            }
        }
        return true
    }
}

private func watch(_ data: UnsafeMutableRawPointer?, _ event: UInt32, on: Bool) {
    guard let state = data?.assumingMemoryBound(to: LibuvAdapter.State.self) else { return }
    let events = on ? state.pointee.events | Int32(event) : state.pointee.events & ~Int32(event)
    guard events != state.pointee.events else { return }
    state.pointee.events = events
    if events == 0 {
        uv_poll_stop(LibuvAdapter.State.poll(state))
    } else {
        uv_poll_start(LibuvAdapter.State.poll(state), events, onPoll)
    }
}

private func onPoll(_ handle: UnsafeMutablePointer<uv_poll_t>?, _ status: Int32, _ ready: Int32) {
    guard let state = handle?.pointee.data?.assumingMemoryBound(to: LibuvAdapter.State.self) else { return }
    // An error: let hiredis read (and write, if it wanted to), so that it finds the failure.
    let events = status != 0 ? state.pointee.events | Int32(UV_READABLE.rawValue) : ready
    if events & Int32(UV_READABLE.rawValue) != 0, let context = state.pointee.context { redisAsyncHandleRead(context) }
    if events & Int32(UV_WRITABLE.rawValue) != 0, let context = state.pointee.context { redisAsyncHandleWrite(context) }
}
