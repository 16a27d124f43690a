import TallyCore
import TallyStore

/// A poll of several shards in Redis (`PollShards`) is finalized in three steps, each idempotent,
/// so that any daemon repeats safely what another stopped in the middle of:
/// 1. every shard is frozen (`CloseScript`, no event): its tallies no longer change;
/// 2. their tallies are summed into the poll's own `{p:ID}:poll` (`version`, `voters`, per option):
///    the same sum whoever writes it, as the shards no longer change;
/// 3. the poll's own key is finalized as any poll's: results frozen from that sum, and one `closed`
///    event (appended, or on a cluster marked pending for `ClosedEvents`).
/// Sharded polls are the few hot ones: a round trip per step and poll is no burst's bottleneck.
extension CloseWorker {
    func finalizeSharded(_ due: [(CloseScript.Due, PollShards)], _ redis: BlockingCluster) throws(StoreError) {
        guard !due.isEmpty else { return }
        try redis.onEveryMaster(["SCRIPT", "LOAD", CloseScript.source])  // called by its SHA-1 below
        let event: CloseScript.Event = try redis.single() != nil ? .append : .markPending
        for (poll, shards) in due {
            let verdicts = try freeze(poll, shards, redis)
            if verdicts.contains(.changed) {
                settle([poll], [.changed])
                continue
            }
            let early = verdicts.compactMap { if case .early(let remaining) = $0 { remaining } else { nil } }.max()
            if let early {
                settle([poll], [.early(early)])
                continue
            }
            try sumTallies(of: poll, shards, redis)
            let key = KeySchema.poll(poll.id)
            let verdict = try redis.command(key: key, { CloseScript.write([poll], event: event, to: $0) }) { reply throws(StoreError) in
                guard reply.isArray, reply.count == 1 else { throw StoreError("close script: \(reply.string ?? "unexpected reply")") }
                return CloseVerdict(reply[0])
            }
            settle([poll], [verdict])
            if case .markPending = event, verdict == .finalized || verdict == .closed { owed.append(poll.id) }
        }
        worker.succeeded()
    }

    /// Step 1: each shard's verdict.
    private func freeze(_ poll: CloseScript.Due, _ shards: PollShards, _ redis: BlockingCluster) throws(StoreError) -> [CloseVerdict] {
        var verdicts = [CloseVerdict](repeating: .changed, count: shards.count)
        var failure: String?
        try redis.pipeline(shards.all.map { shard in
            (KeySchema.key(.poll, shard), { CloseScript.write([poll], event: .none(shards: [shard]), to: $0) })
        }) { index, reply in
            guard reply.isArray, reply.count == 1 else { return failure = reply.string ?? "unexpected reply" }
            verdicts[index] = CloseVerdict(reply[0])
        }
        if let failure { throw StoreError("close script on a shard: \(failure)") }
        return verdicts
    }

    /// Step 2.
    private func sumTallies(of poll: CloseScript.Due, _ shards: PollShards, _ redis: BlockingCluster) throws(StoreError) {
        var version: Int64 = 0
        var voters: Int64 = 0
        var counts = [Int64](repeating: 0, count: poll.options)
        try redis.pipeline(shards.all.map { (StoredPoll.talliesCommand($0, options: poll.options), KeySchema.key(.poll, $0)) }) { _, reply in
            VerdictText.tallies(reply) { shardVersion, shardVoters, count in
                version += shardVersion
                voters += shardVoters
                for option in counts.indices { counts[option] += count(option) }
            }
        }
        let key = KeySchema.poll(poll.id)
        let fields = ["version", String(version), "voters", String(voters)] + counts.enumerated().flatMap { [String($0), String($1)] }
        try redis.command(["HSET", key] + fields, key: key) { _ in }
    }
}
