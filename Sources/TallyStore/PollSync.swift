import TallyCore

/// Keeps the registry equal to Redis' polls.
///
/// - On start (`loadAll`, before the loops run): every poll that is not closed, its lifecycle and
///   its ballots (which give the counts), so a restarted daemon continues where the data says; the
///   closed ones stay in Redis until a request needs them (`PollRegistry.drop`).
/// - While running (`start`, its own thread): a subscription to `tally:changes`, where every
///   organizer change is published, reloads the poll named, so polls created, changed or deleted
///   through another daemon are known here at once. After a lost subscription the polls held are
///   reloaded and the others sorted as at start, in case a change was missed meanwhile. Ballots
///   of polls learned this way are not loaded: Redis judges their votes, and counts here are what
///   this daemon stored.
public final class PollSync: @unchecked Sendable {
    private let host: String
    private let port: Int
    private let registry: PollRegistry
    private let worker: RedisWorker
    /// Called (on the sync thread) with what went wrong, for the log (once per outage).
    public var onProblem: @Sendable (String) -> Void {
        get { worker.onProblem }
        set { worker.onProblem = newValue }
    }

    public init(host: String, port: Int, registry: PollRegistry) {
        self.host = host
        self.port = port
        self.registry = registry
        worker = RedisWorker(label: "poll sync", host: host, port: port)
    }

    /// Polls read from Redis per pipelined batch at start and after a lost subscription: a
    /// round trip per batch, not per poll.
    static let batchSize = 500

    /// Loads every poll that is not closed with its ballots, a batch at a time, and remembers the
    /// closed ones as let go of (`PollRegistry.drop`): a request that needs one loads it then, so a
    /// start costs the open polls, not the history. Call before votes flow.
    @discardableResult
    public func loadAll() throws(StoreError) -> (polls: Int, ballots: Int) {
        let redis = try BlockingRedis(host: host, port: port)
        var ballots = 0
        for batch in try pollIDs(redis).sorted().chunked(Self.batchSize) {
            let found = try read(try openOnes(batch, redis), redis).compactMap { $0 }
            let polls: [Poll]
            do throws(PollAdminError) {
                polls = try registry.install(found.map { ($0.id, $0.definition, $0.version.state, $0.version.revision) })
            } catch { throw StoreError("loading polls: \(error)") }
            ballots += try loadBallots(of: polls, redis)
            try signClosed(polls.filter { $0.lifecycle == .closed }, redis)
        }
        return (registry.count, ballots)
    }

    /// Starts following changes on a thread of its own.
    public func start() {
        worker.start { [self] worker in follow(worker) }
    }

    /// Stops following and waits for the thread to end (within about half a second).
    public func stop() { worker.stop() }

    private func follow(_ worker: RedisWorker) {
        var backoff: Timestamp = 50_000
        while !worker.isStopping {
            do throws(StoreError) {
                let subscriber = try BlockingRedis(host: host, port: port)
                let reader = try worker.connection()
                try subscriber.command(["SUBSCRIBE", KeySchema.changes]) { _ in }
                subscriber.setReadTimeout(milliseconds: 500)
                // Anything missed while not subscribed: every definition again, and polls deleted.
                // A poll known here but not in that list is looked up again rather than dropped:
                // it may have been created since the list was read.
                let stored = try pollIDs(reader)
                let held = Set(registry.ids)
                for batch in stored.subtracting(held).sorted().chunked(Self.batchSize) { try load(try openOnes(batch, reader), reader) }
                for batch in held.sorted().chunked(Self.batchSize) { try load(batch, reader) }
                for id in Set(registry.droppedIDs).subtracting(stored) { registry.forget(id) }
                worker.succeeded()
                backoff = 50_000
                while !worker.isStopping {
                    let message = try subscriber.nextReply { reply in reply.count == 3 ? reply[2].string : nil }
                    if let text = message ?? nil, let id = PollID(text) {
                        try load([id], reader)
                    }
                }
            } catch {
                worker.failed(error, retrying: "with backoff up to 2 s")
                _ = worker.sleep(until: WallClock.now() + backoff)
                backoff = min(backoff * 2, 2_000_000)
            }
        }
    }

    private func pollIDs(_ redis: BlockingRedis) throws(StoreError) -> Set<PollID> {
        try redis.command(["SMEMBERS", KeySchema.polls]) { reply in
            Set((0..<reply.count).compactMap { reply[$0].string.flatMap { PollID($0) } })
        }
    }

    /// Of `ids`, those to load: every poll but the closed ones whose label signature Redis holds,
    /// which are marked let go of instead (one pipelined round trip).
    private func openOnes(_ ids: [PollID], _ redis: BlockingRedis) throws(StoreError) -> [PollID] {
        for id in ids { try redis.send(["HMGET", KeySchema.poll(id), "state", "labels"]) }
        var open: [PollID] = []
        var closed: [(id: PollID, labels: LabelSignature)] = []
        for id in ids {
            let signature = try redis.receive { reply in
                reply.count == 2 && reply[0].string == Lifecycle.closed.name.description ? reply[1].string.flatMap { UInt64($0) } : nil
            }
            if let signature { closed.append((id, LabelSignature(bits: signature))) } else { open.append(id) }
        }
        registry.markDropped(closed)
        return open
    }

    /// Closed polls saved before label signatures were stored get theirs, so the next start
    /// leaves them in Redis too. HSETNX: a save since they were read wrote the newer one.
    private func signClosed(_ polls: [Poll], _ redis: BlockingRedis) throws(StoreError) {
        for poll in polls { try redis.send(["HSETNX", KeySchema.poll(poll.id), "labels", String(LabelSignature(poll.definition).bits)]) }
        for _ in polls { try redis.receive { _ in } }
    }

    /// Installs the polls `ids` as Redis has them, forgetting those Redis does not have.
    private func load(_ ids: [PollID], _ redis: BlockingRedis) throws(StoreError) {
        var found: [(id: PollID, definition: PollDefinition, lifecycle: Lifecycle, revision: Int64)] = []
        for (id, stored) in zip(ids, try read(ids, redis)) {
            guard let stored else {
                registry.forget(id)
                continue
            }
            found.append((id, stored.definition, stored.version.state, stored.version.revision))
        }
        do throws(PollAdminError) { try registry.install(found) } catch { throw StoreError("polls \(ids.first ?? 0)…: \(error)") }
    }

    /// The polls `ids` as Redis has them (nil for one it has not), read in one pipelined round trip.
    private func read(_ ids: [PollID], _ redis: BlockingRedis) throws(StoreError)
        -> [(id: PollID, definition: PollDefinition, version: PollVersion)?]
    {
        for id in ids {
            try redis.send(["HGET", KeySchema.definition(id), "definition"])
            try redis.send(["HMGET", KeySchema.poll(id), "state", "revision"])
        }
        var polls: [(id: PollID, definition: PollDefinition, version: PollVersion)?] = []
        for id in ids {
            let json = try redis.receive { $0.string }
            let version = try redis.receive { reply in
                reply.count == 2 ? StoredPoll.version(state: reply[0].string, revision: reply[1].string) : nil
            }
            guard let json, let version else {
                polls.append(nil)
                continue
            }
            do { polls.append((id, try StoredPoll.definition(json: json), version)) } catch {
                throw StoreError("poll \(id): unreadable definition: \(error)")
            }
        }
        return polls
    }

    /// The ballots of `polls`: the first HSCAN of each pipelined, the rest of a big one after.
    private func loadBallots(of polls: [Poll], _ redis: BlockingRedis) throws(StoreError) -> Int {
        for poll in polls { try redis.send(["HSCAN", KeySchema.ballots(poll.id), "0", "COUNT", "1000"]) }
        var loaded = 0
        var unfinished: [(Poll, String)] = []
        for poll in polls {
            let cursor = try redis.receive { reply throws(StoreError) in try restore(reply, into: poll, &loaded) }
            if cursor != "0" { unfinished.append((poll, cursor)) }
        }
        for (poll, cursor) in unfinished { loaded += try loadBallots(of: poll, from: cursor, redis) }
        return loaded
    }

    private func loadBallots(of poll: Poll, from cursor: String, _ redis: BlockingRedis) throws(StoreError) -> Int {
        var cursor = cursor
        var loaded = 0
        repeat {
            cursor = try redis.command(["HSCAN", KeySchema.ballots(poll.id), cursor, "COUNT", "1000"]) { reply throws(StoreError) in
                try restore(reply, into: poll, &loaded)
            }
        } while cursor != "0"
        return loaded
    }

    /// Restores the ballots of one HSCAN reply into `poll`; returns the scan's next cursor.
    private func restore(_ reply: RedisReply, into poll: Poll, _ loaded: inout Int) throws(StoreError) -> String {
        guard reply.count == 2 else { throw StoreError("HSCAN: unexpected reply") }
        let pairs = reply[1]
        for index in stride(from: 0, to: pairs.count - 1, by: 2) {
            guard let voter = pairs[index].bytes, let ballot = VerdictText.ballot(pairs[index + 1]) else { continue }
            if poll.restore(voter: VoterKey(bytes: voter), ballot: ballot) { loaded += 1 }
        }
        return reply[0].string ?? "0"
    }
}

extension Array {
    /// The array in consecutive pieces of at most `size` elements.
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
