import Foundation
import TallyCore

/// Keeps the registry equal to Redis' polls.
///
/// - On start (`loadAll`, before the loops run): every poll, its lifecycle and its ballots (which
///   give the counts), so a restarted daemon continues where the data says.
/// - While running (`start`, its own thread): a subscription to `tally:changes`, where every
///   organizer change is published, reloads the poll named, so polls created, changed or deleted
///   through another daemon are known here at once. After a lost subscription every definition is
///   reloaded, in case a change was missed meanwhile. Ballots of polls learned this way are not
///   loaded: Redis judges their votes, and counts here are what this daemon stored.
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

    /// Loads every poll with its ballots. Call before votes flow.
    @discardableResult
    public func loadAll() throws(StoreError) -> (polls: Int, ballots: Int) {
        let redis = try BlockingRedis(host: host, port: port)
        var found: [(id: PollID, definition: PollDefinition, lifecycle: Lifecycle, revision: Int64)] = []
        for id in try pollIDs(redis) {
            if let stored = try read(id, redis) { found.append((id, stored.definition, stored.version.state, stored.version.revision)) }
        }
        let polls: [Poll]
        do throws(PollAdminError) { polls = try registry.install(found) } catch { throw StoreError("loading polls: \(error)") }
        var ballots = 0
        for poll in polls { ballots += try loadBallots(of: poll, redis) }
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
                for id in stored { try load(id, reader) }
                for id in registry.ids where !stored.contains(id) { try load(id, reader) }
                worker.succeeded()
                backoff = 50_000
                while !worker.isStopping {
                    let message = try subscriber.nextReply { reply in reply.count == 3 ? reply[2].string : nil }
                    if let text = message ?? nil, let id = PollID(text) {
                        try load(id, reader)
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

    /// Installs poll `id` as Redis has it, or forgets it if Redis does not have it.
    private func load(_ id: PollID, _ redis: BlockingRedis) throws(StoreError) {
        guard let stored = try read(id, redis) else { return registry.forget(id) }
        do throws(PollAdminError) {
            try registry.install(id: id, definition: stored.definition, lifecycle: stored.version.state, revision: stored.version.revision)
        } catch {
            throw StoreError("poll \(id): \(error)")
        }
    }

    /// Poll `id`'s definition and version as Redis has them; nil if it has no such poll.
    private func read(_ id: PollID, _ redis: BlockingRedis) throws(StoreError) -> (definition: PollDefinition, version: PollVersion)? {
        let json = try redis.command(["HGET", KeySchema.definition(id), "definition"]) { $0.string }
        let version = try redis.command(["HMGET", KeySchema.poll(id), "state", "revision"]) { reply in
            reply.count == 2 ? StoredPoll.version(state: reply[0].string, revision: reply[1].string) : nil
        }
        guard let json, let version else { return nil }
        do { return (try JSONDecoder().decode(StoredPoll.self, from: Data(json.utf8)).definition, version) } catch {
            throw StoreError("poll \(id): unreadable definition: \(error)")
        }
    }

    private func loadBallots(of poll: Poll, _ redis: BlockingRedis) throws(StoreError) -> Int {
        var cursor = "0"
        var loaded = 0
        repeat {
            cursor = try redis.command(["HSCAN", KeySchema.ballots(poll.id), cursor, "COUNT", "1000"]) { reply throws(StoreError) in
                guard reply.count == 2 else { throw StoreError("HSCAN: unexpected reply") }
                let pairs = reply[1]
                for index in stride(from: 0, to: pairs.count - 1, by: 2) {
                    guard let voter = pairs[index].bytes, let ballot = VerdictText.ballot(pairs[index + 1]) else { continue }
                    if poll.restore(voter: VoterKey(bytes: voter), ballot: ballot) { loaded += 1 }
                }
                return reply[0].string ?? "0"
            }
        } while cursor != "0"
        return loaded
    }
}
