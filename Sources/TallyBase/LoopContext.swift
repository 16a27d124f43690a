import CLibUV

/// What a loop offers the modules that work on it (TallyStore's Redis connection and write batch):
/// its index, its libuv loop, and a hook for when it stops. TallyHTTP's event loop makes one and
/// hands it to `makeRouter` before the loop runs; everything attached to `uvLoop` then runs on the
/// loop's thread only.
public final class LoopContext {
    public let index: Int
    public let uvLoop: UnsafeMutablePointer<uv_loop_t>
    private var stopHandlers: [() -> Void] = []
    private var sweepHandlers: [() -> Void] = []

    public init(index: Int, uvLoop: UnsafeMutablePointer<uv_loop_t>) {
        self.index = index
        self.uvLoop = uvLoop
    }

    /// Runs `handler` on the loop's thread once its last connection has closed during shutdown:
    /// close your handles there, so the loop can end.
    public func onStop(_ handler: @escaping () -> Void) { stopHandlers.append(handler) }

    /// Runs `handler` on the loop's thread every 250 ms (the loop's sweep of its connections).
    public func onSweep(_ handler: @escaping () -> Void) { sweepHandlers.append(handler) }

    /// The loop calls this on every sweep.
    public func swept() {
        for handler in sweepHandlers { handler() }
    }

    /// The loop calls this once its last connection has closed during shutdown.
    public func stopped() {
        for handler in stopHandlers { handler() }
        stopHandlers = []
    }
}
