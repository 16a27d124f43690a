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
    private let endpoint: RedisEndpoint
    private let registry: PollRegistry
    private let worker: RedisWorker
    /// Closed polls whose `closed` event a stopped daemon left pending (a cluster), as the last
    /// `loadAll` found them: for `CloseWorker.relayEvents`.
    public private(set) var pendingEvents: [PollID] = []
    /// Called (on the sync thread) with what went wrong, for the log (once per outage).
    public var onProblem: @Sendable (String) -> Void {
        get { worker.onProblem }
        set { worker.onProblem = newValue }
    }

    public init(redis endpoint: RedisEndpoint, registry: PollRegistry) {
        self.endpoint = endpoint
        self.registry = registry
        worker = RedisWorker(label: "poll sync", redis: endpoint)
    }

    /// Polls read from Redis per pipelined batch at start and after a lost subscription: a
    /// round trip per batch (per node on a cluster), not per poll.
    static let batchSize = 500

    /// Loads every poll that is not closed with its ballots, a batch at a time, and remembers the
    /// closed ones as let go of (`PollRegistry.drop`): a request that needs one loads it then, so a
    /// start costs the open polls, not the history. Call before votes flow.
    @discardableResult
    public func loadAll() throws(StoreError) -> (polls: Int, ballots: Int) {
        let redis = try BlockingCluster(endpoint)
        var ballots = 0
        for batch in try pollIDs(redis).sorted().chunked(Self.batchSize) {
            let found = try read(try openOnes(batch, redis, pending: &pendingEvents), redis).compactMap { $0 }
            let polls: [Poll]
            do throws(PollAdminError) {
                polls = try registry.install(found.map { ($0.id, $0.definition, $0.version.state, $0.version.revision) })
            } catch { throw StoreError("loading polls: \(error)") }
            try copyRules(into: polls.filter { $0.storeShards.count > 1 }, redis)
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
                let reader = try worker.connection()
                let subscriber = try reader.subscriber()
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

    private func pollIDs(_ redis: BlockingCluster) throws(StoreError) -> Set<PollID> {
        try redis.command(["SMEMBERS", KeySchema.polls], key: KeySchema.polls) { reply in
            Set((0..<reply.count).compactMap { reply[$0].string.flatMap { PollID($0) } })
        }
    }

    /// Of `ids`, those to load: every poll but the closed ones whose label signature Redis holds,
    /// which are marked let go of instead (one pipelined round trip). Closed polls whose `closed`
    /// event is still pending (a cluster, `ClosedEvents`) are noted in `pendingEvents`.
    private func openOnes(_ ids: [PollID], _ redis: BlockingCluster) throws(StoreError) -> [PollID] {
        var pending: [PollID] = []
        return try openOnes(ids, redis, pending: &pending)
    }

    private func openOnes(_ ids: [PollID], _ redis: BlockingCluster, pending: inout [PollID]) throws(StoreError) -> [PollID] {
        var signatures = [LabelSignature?](repeating: nil, count: ids.count)
        try redis.pipeline(ids.map { (["HMGET", KeySchema.poll($0), "state", "labels", "eventPending"], KeySchema.poll($0)) }) { index, reply in
            guard reply.count == 3 && reply[0].string == Lifecycle.closed.name.description else { return }
            if let bits = reply[1].string.flatMap({ UInt64($0) }) { signatures[index] = LabelSignature(bits: bits) }
            if reply[2].string == "1" { pending.append(ids[index]) }
        }
        registry.markDropped(zip(ids, signatures).compactMap { id, signature in signature.map { (id, $0) } })
        return zip(ids, signatures).filter { $0.1 == nil }.map(\.0)
    }

    /// Closed polls saved before label signatures were stored get theirs, so the next start
    /// leaves them in Redis too. HSETNX: a save since they were read wrote the newer one.
    private func signClosed(_ polls: [Poll], _ redis: BlockingCluster) throws(StoreError) {
        try redis.pipeline(polls.map { (["HSETNX", KeySchema.poll($0.id), "labels", String(LabelSignature($0.definition).bits)], KeySchema.poll($0.id)) }) { _, _ in }
    }

    /// Installs the polls `ids` as Redis has them, forgetting those Redis does not have.
    private func load(_ ids: [PollID], _ redis: BlockingCluster) throws(StoreError) {
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
    private func read(_ ids: [PollID], _ redis: BlockingCluster) throws(StoreError)
        -> [(id: PollID, definition: PollDefinition, version: PollVersion)?]
    {
        var commands: [(arguments: [String], key: String)] = []
        for id in ids {
            commands.append((["HGET", KeySchema.definition(id), "definition"], KeySchema.definition(id)))
            commands.append((["HMGET", KeySchema.poll(id), "state", "revision"], KeySchema.poll(id)))
        }
        var definitions = [String?](repeating: nil, count: ids.count)
        var versions = [PollVersion?](repeating: nil, count: ids.count)
        try redis.pipeline(commands) { index, reply in
            if index % 2 == 0 {
                definitions[index / 2] = reply.string
            } else if reply.count == 2 {
                versions[index / 2] = StoredPoll.version(state: reply[0].string, revision: reply[1].string)
            }
        }
        var polls: [(id: PollID, definition: PollDefinition, version: PollVersion)?] = []
        for (index, id) in ids.enumerated() {
            guard let json = definitions[index], let version = versions[index] else {
                polls.append(nil)
                continue
            }
            do { polls.append((id, try StoredPoll.definition(json: json), version)) } catch {
                throw StoreError("poll \(id): unreadable definition: \(error)")
            }
        }
        return polls
    }

    /// A sharded poll's rules, copied into every shard that has an older revision of them: a
    /// daemon that stopped between an organizer's save and its copies left those behind
    /// (`LoopStore.savePoll`).
    private func copyRules(into polls: [Poll], _ redis: BlockingCluster) throws(StoreError) {
        let commands = polls.flatMap { poll in
            poll.storeShards.all.map { shard in
                (StoredPoll.shardRulesCommand(shard, revision: poll.revision, definition: poll.definition, lifecycle: poll.lifecycle),
                 KeySchema.key(.poll, shard))
            }
        }
        try redis.pipeline(commands) { _, _ in }
    }

    /// The ballots of `polls`, from each of their shards: the first HSCAN of each pipelined, the
    /// rest of a big one after.
    private func loadBallots(of polls: [Poll], _ redis: BlockingCluster) throws(StoreError) -> Int {
        var loaded = 0
        var unfinished: [(Poll, PollShard, String)] = []
        let shards = polls.flatMap { poll in poll.storeShards.all.map { (poll, $0) } }
        try redis.pipeline(shards.map { (["HSCAN", KeySchema.ballots($0.1), "0", "COUNT", "1000"], KeySchema.ballots($0.1)) }) {
            index, reply throws(StoreError) in
            let cursor = try restore(reply, into: shards[index].0, &loaded)
            if cursor != "0" { unfinished.append((shards[index].0, shards[index].1, cursor)) }
        }
        for (poll, shard, cursor) in unfinished { loaded += try loadBallots(of: poll, shard, from: cursor, redis) }
        return loaded
    }

    private func loadBallots(of poll: Poll, _ shard: PollShard, from cursor: String, _ redis: BlockingCluster) throws(StoreError) -> Int {
        var cursor = cursor
        var loaded = 0
        repeat {
            cursor = try redis.command(["HSCAN", KeySchema.ballots(shard), cursor, "COUNT", "1000"], key: KeySchema.ballots(shard)) {
                reply throws(StoreError) in try restore(reply, into: poll, &loaded)
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
    public func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
