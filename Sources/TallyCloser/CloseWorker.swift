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
    private let worker: RedisWorker
    private let registry: PollRegistry
    private let retryMicroseconds: Timestamp
    /// Polls the registry changed, under the worker's lock (`RedisWorker.locked`).
    private var changed: [PollID] = []
    /// The worker thread's own.
    private var schedule = CloseSchedule()

    /// Called on the worker's thread for each poll it finalized: (id, end date).
    public var onFinalized: @Sendable (PollID, Timestamp) -> Void = { _, _ in }
    /// Called on the worker's thread with what went wrong, for the log (once per outage).
    public var onProblem: @Sendable (String) -> Void {
        get { worker.onProblem }
        set { worker.onProblem = newValue }
    }

    public init(host: String, port: Int, registry: PollRegistry, retryMilliseconds: Int = 100) {
        worker = RedisWorker(label: "close worker", host: host, port: port)
        self.registry = registry
        retryMicroseconds = Timestamp(retryMilliseconds) * 1_000
    }

    /// Schedules every poll the registry holds and starts the worker's thread.
    public func start() {
        registry.onChange { [weak self] id in self?.pollChanged(id) }
        worker.locked { changed.append(contentsOf: registry.ids) }
        worker.start { [self] worker in
            // Until the next poll is due or the registry changes.
            while worker.sleep(until: schedule.nextFireAt(), unless: { !changed.isEmpty }) {
                let changes = worker.locked {
                    defer { changed.removeAll(keepingCapacity: true) }
                    return changed
                }
                for id in changes { reschedule(id) }
                finalizeDuePolls()
            }
        }
    }

    /// Stops the worker and waits for its thread to end.
    public func stop() { worker.stop() }

    private func pollChanged(_ id: PollID) {
        worker.locked { changed.append(id) }
        worker.wake()
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
        var answered = false
        do throws(StoreError) {
            while true {
                if inFlight.count < 2 {
                    let due = schedule.takeDue(now: WallClock.now(), limit: CloseScript.pollsPerCall).map { id, closesAt in
                        (id, closesAt, registry.poll(id)?.definition.options.count ?? 0)
                    }
                    if !due.isEmpty {
                        inFlight.append(due)
                        try worker.connection().send { CloseScript.write(due, to: $0) }
                        continue
                    }
                }
                guard let oldest = inFlight.first else {
                    if answered { worker.succeeded() }
                    return
                }
                let verdicts = try worker.connection().receive { reply in (0..<reply.count).map { CloseVerdict(reply[$0]) } }
                answered = true
                inFlight.removeFirst()
                settle(oldest, verdicts)
            }
        } catch {
            worker.failed(error, retrying: "every \(retryMicroseconds / 1_000) ms")
            let retryAt = WallClock.now() + retryMicroseconds
            for (id, closesAt, _) in inFlight.joined() { schedule.retry(id, closesAt: closesAt, at: retryAt) }
        }
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
