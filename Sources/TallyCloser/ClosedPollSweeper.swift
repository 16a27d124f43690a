import Dispatch
import TallyCore

/// Lets closed polls go from memory once nobody has read them for `keepMicroseconds`
/// (`PollRegistry.drop`), so a daemon's memory follows the open polls, not the history. Redis keeps
/// them whole, and a request that needs one loads it back (`PollLoader`). Checks every tenth of
/// that time (at most every 10 s), on a queue of its own.
public final class ClosedPollSweeper: @unchecked Sendable {
    private let registry: PollRegistry
    private let keepMicroseconds: Timestamp
    private let timer: DispatchSourceTimer

    /// Called on the sweeper's queue with how many polls a sweep let go of (when any).
    public var onDropped: @Sendable (Int) -> Void = { _ in }

    public init(registry: PollRegistry, keepSeconds: Int) {
        self.registry = registry
        keepMicroseconds = Timestamp(keepSeconds) * 1_000_000
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "closed-poll sweeper"))
    }

    public func start() {
        let interval = DispatchTimeInterval.microseconds(Int(min(max(keepMicroseconds / 10, 50_000), 10_000_000)))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [self] in sweep() }
        timer.resume()
    }

    public func stop() { timer.cancel() }

    /// One sweep (also for tests).
    public func sweep() {
        let dropped = registry.drop(closedAndUnreadSince: WallClock.now() - keepMicroseconds)
        if dropped > 0 { onDropped(dropped) }
    }
}
