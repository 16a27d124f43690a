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
    let worker: RedisWorker
    private let registry: PollRegistry
    private let retryMicroseconds: Timestamp
    /// Polls the registry changed, under the worker's lock (`RedisWorker.locked`).
    private var changed: [PollID] = []
    /// On a cluster, polls whose `closed` event may still be pending (`ClosedEvents`) handed in at
    /// start (`relayEvents`), under the worker's lock.
    private var owedEvents: [PollID] = []
    /// The worker thread's own: polls closed on a cluster whose events are not appended yet, and
    /// when to try again after a failure.
    var owed: [PollID] = []
    private var retryOwedAt: Timestamp?
    /// The worker thread's own.
    private var schedule = CloseSchedule()
    /// The worker thread's own: sharded polls due (`finalizeSharded`), with their shards.
    private var shardedDue: [(CloseScript.Due, PollShards)] = []

    /// Called on the worker's thread for each poll it finalized: (id, end date).
    public var onFinalized: @Sendable (PollID, Timestamp) -> Void = { _, _ in }
    /// Called on the worker's thread with what went wrong, for the log (once per outage).
    public var onProblem: @Sendable (String) -> Void {
        get { worker.onProblem }
        set { worker.onProblem = newValue }
    }

    public init(redis: RedisEndpoint, registry: PollRegistry, retryMilliseconds: Int = 100) {
        worker = RedisWorker(label: "close worker", redis: redis)
        self.registry = registry
        retryMicroseconds = Timestamp(retryMilliseconds) * 1_000
    }

    /// Schedules every poll the registry holds and starts the worker's thread.
    public func start() {
        registry.onChange { [weak self] id in self?.pollChanged(id) }
        worker.locked { changed.append(contentsOf: registry.ids) }
        worker.start { [self] worker in
            // Until the next poll is due or the registry changes.
            while worker.sleep(until: [schedule.nextFireAt(), retryOwedAt].compactMap { $0 }.min(), unless: { !changed.isEmpty || !owedEvents.isEmpty }) {
                let changes = worker.locked {
                    defer { changed.removeAll(keepingCapacity: true) }
                    return changed
                }
                for id in changes { reschedule(id) }
                finalizeDuePolls()
                relayOwedEvents()
            }
        }
    }

    /// On a cluster: polls closed in Redis whose event may not be appended yet (a daemon stopped
    /// between the two), appended by the worker's thread.
    public func relayEvents(of ids: [PollID]) {
        guard !ids.isEmpty else { return }
        worker.locked { owedEvents += ids }
        worker.wake()
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

    /// Finalizes every poll due; due polls whose call got no answer are tried again after
    /// `retryMicroseconds`.
    private func finalizeDuePolls() {
        var unanswered: [[CloseScript.Due]] = []
        do throws(StoreError) {
            let redis = try worker.connection()
            if let one = try redis.single() { try finalizeStreaming(one, &unanswered) } else { try finalizeOnCluster(redis, &unanswered) }
            let sharded = shardedDue
            shardedDue = []
            unanswered = [sharded.map(\.0)]
            try finalizeSharded(sharded, redis)
            unanswered = []
        } catch {
            worker.failed(error, retrying: "every \(retryMicroseconds / 1_000) ms")
            let retryAt = WallClock.now() + retryMicroseconds
            for (id, closesAt, _) in unanswered.joined() { schedule.retry(id, closesAt: closesAt, at: retryAt) }
        }
    }

    /// The polls due now, at most `limit`, with their option counts; sharded ones are put aside
    /// for `finalizeSharded`.
    private func takeDue(_ limit: Int) -> [CloseScript.Due] {
        var due: [CloseScript.Due] = []
        for (id, closesAt) in schedule.takeDue(now: WallClock.now(), limit: limit) {
            let poll = registry.poll(id)
            let entry = (id, closesAt, poll?.definition.options.count ?? 0)
            if let poll, poll.storeShards.count > 1 { shardedDue.append((entry, poll.storeShards)) } else { due.append(entry) }
        }
        return due
    }

    /// One Redis: `CloseScript.pollsPerCall` per call, with two calls in flight: the next call is
    /// built and sent while Redis runs the previous one, so Redis never waits for the worker in a
    /// burst.
    private func finalizeStreaming(_ redis: BlockingRedis, _ inFlight: inout [[CloseScript.Due]]) throws(StoreError) {
        var answered = false
        while true {
            if inFlight.count < 2 {
                let due = takeDue(CloseScript.pollsPerCall)
                if !due.isEmpty {
                    inFlight.append(due)
                    try redis.send { CloseScript.write(due, to: $0) }
                    continue
                }
            }
            guard let oldest = inFlight.first else {
                if answered { worker.succeeded() }
                return
            }
            let verdicts = try redis.receive { reply in (0..<reply.count).map { CloseVerdict(reply[$0]) } }
            answered = true
            inFlight.removeFirst()
            settle(oldest, verdicts)
        }
    }

    /// A Redis Cluster: one call per slot (a script's keys share one), pipelined per master, a
    /// round of up to `pollsPerRound` polls at a time; the `closed` events are appended next
    /// (`relayOwedEvents`), also those of polls another daemon closed (it may have stopped before
    /// appending them).
    private func finalizeOnCluster(_ redis: BlockingCluster, _ unanswered: inout [[CloseScript.Due]]) throws(StoreError) {
        while true {
            let due = takeDue(CloseWorker.pollsPerRound)
            if due.isEmpty { return }
            let calls = Array(Dictionary(grouping: due) { ClusterSlot.ofPoll($0.id) }.values)
            unanswered = calls
            try redis.onEveryMaster(["SCRIPT", "LOAD", CloseScript.source])  // called by its SHA-1 below
            var answered = [Bool](repeating: false, count: calls.count)
            do throws(StoreError) {
                try redis.pipeline(calls.map { call in (KeySchema.poll(call[0].id), { CloseScript.write(call, event: .markPending, to: $0) }) }) {
                    index, reply in
                    let verdicts = (0..<reply.count).map { CloseVerdict(reply[$0]) }
                    settle(calls[index], verdicts)
                    answered[index] = true
                    for (poll, verdict) in zip(calls[index], verdicts) where verdict == .finalized || verdict == .closed { owed.append(poll.id) }
                }
            } catch {
                unanswered = calls.indices.filter { !answered[$0] }.map { calls[$0] }
                throw error
            }
            unanswered = []
            worker.succeeded()
        }
    }

    /// Polls per pipelined round on a cluster.
    static let pollsPerRound = 2_000

    /// Appends the events owed (cluster only; tried again after a failure).
    private func relayOwedEvents() {
        owed += worker.locked {
            defer { owedEvents.removeAll() }
            return owedEvents
        }
        guard !owed.isEmpty else { return }
        do throws(StoreError) {
            try ClosedEvents.relay(owed, try worker.connection())
            owed = []
            retryOwedAt = nil
            worker.succeeded()
        } catch {
            worker.failed(error, retrying: "every \(retryMicroseconds / 1_000) ms")
            retryOwedAt = WallClock.now() + retryMicroseconds
        }
    }

    func settle(_ due: [CloseScript.Due], _ verdicts: [CloseVerdict]) {
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
