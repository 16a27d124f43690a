import Foundation
import TallyCore

/// Keeps the results this daemon shows up to date with the votes stored through other daemons.
///
/// A loop learns the store's tallies with every vote batch it sends (`VoteScript` returns them), so
/// results on a daemon that takes votes for a poll include every daemon's votes as of its last
/// batch. When it takes none (voting has stopped, or the proxy sends this poll's votes elsewhere),
/// this thread reads the tallies of each poll viewed lately, every `interval`, with `HMGET`s
/// pipelined (per node on a cluster), and records them in the poll's follower slot. Results are
/// therefore at most about one interval behind the store, and never behind this daemon's own
/// acknowledged votes.
///
/// Bounded: at most `pollsPerRefresh` polls per interval, those refreshed longest ago first, so
/// that a daemon showing very many polls costs Redis a steady few thousand reads a second; beyond
/// that, each poll is refreshed less often.
public final class ResultsFollower: @unchecked Sendable {
    private let worker: RedisWorker
    private let registry: PollRegistry
    private let intervalMicroseconds: Timestamp
    /// Polls read within this window are refreshed.
    private let viewedWindow: Timestamp = 10_000_000
    private let pollsPerRefresh: Int
    /// When each poll was last read back (follower thread only).
    private var refreshedAt: [PollID: Timestamp] = [:]

    /// Called on the follower's thread with what went wrong, for the log (once per outage).
    public var onProblem: @Sendable (String) -> Void {
        get { worker.onProblem }
        set { worker.onProblem = newValue }
    }

    public init(redis: RedisEndpoint, registry: PollRegistry, intervalMilliseconds: Int = 250, pollsPerRefresh: Int = 1_000) {
        worker = RedisWorker(label: "results follower", redis: redis)
        self.registry = registry
        intervalMicroseconds = Timestamp(intervalMilliseconds) * 1_000
        self.pollsPerRefresh = pollsPerRefresh
    }

    public func start() {
        worker.start { [self] worker in
            while worker.sleep(until: WallClock.now() + intervalMicroseconds) { refresh() }
        }
    }

    /// Stops the follower and waits for its thread to end.
    public func stop() { worker.stop() }

    /// Reads and records the tallies of every poll viewed lately.
    func refresh() {
        let now = WallClock.now()
        var viewed = registry.polls(viewedSince: now - viewedWindow)
        guard !viewed.isEmpty else { return refreshedAt.removeAll() }
        if viewed.count > pollsPerRefresh {
            viewed.sort { refreshedAt[$0.id, default: 0] < refreshedAt[$1.id, default: 0] }
            viewed.removeLast(viewed.count - pollsPerRefresh)
        }
        if refreshedAt.count > 4 * pollsPerRefresh { refreshedAt = refreshedAt.filter { now - $0.value < viewedWindow } }
        do throws(StoreError) {
            let redis = try worker.connection()
            for start in stride(from: 0, to: viewed.count, by: 500) {
                // Every shard of each poll: a sharded one's results are their sum.
                let chunk = viewed[start..<min(start + 500, viewed.count)].flatMap { poll in poll.storeShards.all.map { (poll, $0) } }
                try redis.pipeline(chunk.map { poll, shard in
                    (StoredPoll.talliesCommand(shard, options: poll.definition.options.count), KeySchema.key(.poll, shard))
                }) { index, reply in
                    let (poll, shard) = chunk[index]
                    refreshedAt[poll.id] = now
                    VerdictText.tallies(reply) { version, voters, count in
                        poll.recordStoredTallies(
                            storeShard: Int(shard.index), version: version, voters: voters, slot: poll.followerSlot, count: count)
                    }
                }
            }
            worker.succeeded()
        } catch {
            worker.failed(error, retrying: "every \(intervalMicroseconds / 1_000) ms")
        }
    }
}
