import Atomics

/// A poll's tallies as the store (Redis, shared by every daemon) last reported them, so that each
/// daemon's results include the votes stored through the others. A poll of several shards in
/// Redis (`PollShards`) has tallies per shard; its results are their sum.
///
/// The store numbers its tallies with a version that grows with every change. Each writer (each
/// event loop, from its vote-script replies, and the results follower) has a slot of its own, a
/// seqlock that only its thread writes: writing never waits, reading never blocks a writer and
/// allocates nothing. Readers take, per shard, the slot with the newest version.
///
/// Row layout, in 64-bit words: [sequence, version + 1 (0: none reported), voters, option 0,
/// option 1, …], padded to whole cache lines. The sequence is odd while its writer is mid-write.
/// A shard nobody voted in is reported at version 0: it counts as reported (a sharded poll's sum
/// needs every shard), but until some shard has stored a vote the daemon's own counts answer
/// (they take in the ballots it looks up in Redis at once).
final class StoredTallies: @unchecked Sendable {
    let optionCount: Int
    let slotCount: Int
    let shardCount: Int
    /// A row per (slot, shard).
    private let rows: PaddedRows

    init(optionCount: Int, slotCount: Int, shardCount: Int = 1) {
        self.optionCount = optionCount
        self.slotCount = slotCount
        self.shardCount = shardCount
        rows = PaddedRows(rowCount: slotCount * shardCount, words: 3 + optionCount)
    }

    private func word(_ row: Int, _ index: Int) -> UnsafeAtomic<Int64> { rows.word(row, index) }

    /// Records tallies the store reported for `shard` at `version`, unless this slot already has
    /// newer ones of it. Only `slot`'s own thread calls this.
    func record(slot: Int, shard: Int = 0, version: Int64, voters: Int64, count: (Int) -> Int64) {
        let slot = slot * shardCount + shard
        let sequence = word(slot, 0)
        guard version >= 0, version + 1 > word(slot, 1).load(ordering: .relaxed) else { return }
        let start = sequence.load(ordering: .relaxed)
        sequence.store(start &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        word(slot, 1).store(version + 1, ordering: .relaxed)
        word(slot, 2).store(voters, ordering: .relaxed)
        for option in 0..<optionCount { word(slot, 3 + option).store(count(option), ordering: .relaxed) }
        sequence.store(start &+ 2, ordering: .releasing)
    }

    /// The newest tallies: of each shard the slot with the newest, summed (the version too, which
    /// so grows with every change of any shard). (version, voters) with `counts` filled in; nil
    /// until the store has reported every shard and stored some vote (or, rarely, a slot was
    /// mid-write every time it was read).
    func newest(into counts: inout InlineArray<64, Int64>) -> (version: Int64, voters: Int64)? {
        let total = shardCount == 1 ? newest(shard: 0, into: &counts) : summed(into: &counts)
        guard let total, total.version > 0 else { return nil }
        return total
    }

    private func summed(into counts: inout InlineArray<64, Int64>) -> (version: Int64, voters: Int64)? {
        var total: (version: Int64, voters: Int64) = (0, 0)
        var sum = InlineArray<64, Int64>(repeating: 0)
        for shard in 0..<shardCount {
            guard let tallies = newest(shard: shard, into: &counts) else { return nil }
            total = (total.version + tallies.version, total.voters + tallies.voters)
            for option in 0..<optionCount { sum[option] += counts[option] }
        }
        for option in 0..<optionCount { counts[option] = sum[option] }
        return total
    }

    private func newest(shard: Int, into counts: inout InlineArray<64, Int64>) -> (version: Int64, voters: Int64)? {
        var best: (slot: Int, version: Int64)?
        for row in stride(from: shard, to: slotCount * shardCount, by: shardCount) {
            let version = word(row, 1).load(ordering: .relaxed)
            if version > 0 && version > (best?.version ?? 0) { best = (row, version) }
        }
        guard let best else { return nil }
        // A consistent copy of that slot; its writer only ever moves it to a newer version, so a
        // retry reads tallies at least as new. A writer stopped mid-write is not waited for.
        for _ in 0..<64 {
            let before = word(best.slot, 0).load(ordering: .acquiring)
            if before & 1 == 1 { continue }
            let version = word(best.slot, 1).load(ordering: .relaxed) - 1
            let voters = word(best.slot, 2).load(ordering: .relaxed)
            for option in 0..<optionCount { counts[option] = word(best.slot, 3 + option).load(ordering: .relaxed) }
            atomicMemoryFence(ordering: .acquiring)
            if word(best.slot, 0).load(ordering: .relaxed) == before { return (version, voters) }
        }
        return nil
    }
}
