import Foundation
import TallyCore
import TallyStore

/// Finalizes polls at their end dates, on a thread of its own.
///
/// It follows the registry (`PollRegistry.onChange`): an open poll whose end date closes it is
/// scheduled; a poll deleted, closed, or given another end date is rescheduled or dropped. When a
/// poll is due, `CloseScript` finalizes it in Redis (the first daemon to get there does it; the
/// others find it closed), and the poll's state is flipped to closed here, for every loop at once.
/// Loops never wait for this: a vote at or after `closesAt` is rejected by the engine and by Redis
/// on their own clocks, so the worker being late changes when results are frozen, never what they are.
///
/// Polls whose end passed while no daemon ran are due at once on start. While Redis is away, due
/// polls are retried every `retryMilliseconds`.
public final class CloseWorker: @unchecked Sendable {
    private let host: String
    private let port: Int
    private let registry: PollRegistry
    private let retryMicroseconds: Timestamp
    /// Guards `changed` and `stopping`; signalled when either changes.
    private let condition = NSCondition()
    private var changed: [PollID] = []
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    // The worker thread's own state.
    private var schedule = CloseSchedule()
    private var redis: BlockingRedis?
    private var hadProblem = false

    /// Called on the worker's thread for each poll it finalized: (id, end date).
    public var onFinalized: @Sendable (PollID, Timestamp) -> Void = { _, _ in }
    /// Called on the worker's thread with what went wrong, for the log (once per outage).
    public var onProblem: @Sendable (String) -> Void = { _ in }

    public init(host: String, port: Int, registry: PollRegistry, retryMilliseconds: Int = 100) {
        self.host = host
        self.port = port
        self.registry = registry
        retryMicroseconds = Timestamp(retryMilliseconds) * 1_000
    }

    /// Schedules every poll the registry holds and starts the worker's thread.
    public func start() {
        registry.onChange { [weak self] id in self?.pollChanged(id) }
        condition.withLock { changed.append(contentsOf: registry.snapshot.polls.keys) }
        let thread = Thread { [self] in run() }
        thread.name = "tally-close-worker"
        thread.start()
    }

    /// Stops the worker and waits for its thread to end.
    public func stop() {
        condition.withLock {
            stopping = true
            condition.signal()
        }
        finished.wait()
    }

    private func pollChanged(_ id: PollID) {
        condition.withLock {
            changed.append(id)
            condition.signal()
        }
    }

    private func run() {
        while let changes = waitForWork() {
            for id in changes { reschedule(id) }
            finalizeDuePolls()
        }
        finished.signal()
    }

    /// The longest single wait, µs (see `waitForWork`).
    private static let longestWait: Int64 = 3_600_000_000

    /// Sleeps until the next poll is due or the registry changes; returns the polls that changed,
    /// or nil when stopping.
    private func waitForWork() -> [PollID]? {
        let next = schedule.nextFireAt()
        condition.lock()
        defer { condition.unlock() }
        while !stopping && changed.isEmpty {
            guard let next else {
                condition.wait()
                continue
            }
            let wait = next - WallClock.now()
            if wait <= 0 { break }
            // At most an hour at a time: Foundation traps on a deadline centuries away (an end date
            // in the year 8682 crashed the daemon under fuzzing).
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(min(wait, CloseWorker.longestWait)) / 1_000_000))
        }
        if stopping { return nil }
        defer { changed.removeAll(keepingCapacity: true) }
        return changed
    }

    private func reschedule(_ id: PollID) {
        let poll = registry.poll(id)
        let closesAt = poll?.lifecycle == .open ? poll?.definition.rules.deadline : nil
        schedule.set(id, closesAt: closesAt)
    }

    /// Finalizes every poll due, `CloseScript.pollsPerCall` per call, with two calls in flight: the
    /// next call is built and sent while Redis runs the previous one, so Redis never waits for the
    /// worker in a burst.
    private func finalizeDuePolls() {
        var inFlight: [[CloseScript.Due]] = []
        do throws(StoreError) {
            while true {
                if inFlight.count < 2 {
                    let due = schedule.takeDue(now: WallClock.now(), limit: CloseScript.pollsPerCall).map { id, closesAt in
                        (id, closesAt, registry.poll(id)?.definition.options.count ?? 0)
                    }
                    if !due.isEmpty {
                        inFlight.append(due)
                        try connection().send { CloseScript.write(due, to: $0) }
                        continue
                    }
                }
                guard let oldest = inFlight.first else { return }
                let verdicts = try connection().receive { reply in (0..<reply.count).map { CloseVerdict(reply[$0]) } }
                inFlight.removeFirst()
                settle(oldest, verdicts)
            }
        } catch {
            if redis != nil || !hadProblem { onProblem("close worker: \(error); retrying every \(retryMicroseconds / 1_000) ms") }
            hadProblem = true
            redis = nil
            let retryAt = WallClock.now() + retryMicroseconds
            for (id, closesAt, _) in inFlight.joined() { schedule.retry(id, closesAt: closesAt, at: retryAt) }
        }
    }

    private func connection() throws(StoreError) -> BlockingRedis {
        if redis == nil { redis = try BlockingRedis(host: host, port: port, readTimeoutMilliseconds: 2_000) }
        return redis!
    }

    private func settle(_ due: [CloseScript.Due], _ verdicts: [CloseVerdict]) {
        for ((id, closesAt, _), verdict) in zip(due, verdicts) {
            switch verdict {
            case .finalized, .closed:
                schedule.finished(id, closesAt: closesAt)
                // Unless an organizer moved the end date meanwhile (then the change reschedules it).
                if registry.poll(id)?.definition.rules.deadline == closesAt { try? registry.close(id) }
                if verdict == .finalized { onFinalized(id, closesAt) }
            case .early(let remaining):
                schedule.retry(id, closesAt: closesAt, at: WallClock.now() + remaining)
            case .changed:
                schedule.finished(id, closesAt: closesAt)
            }
        }
    }
}
