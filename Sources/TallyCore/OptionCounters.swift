import Atomics

/// A poll's vote counts: one cache-line-aligned shard per event loop.
///
/// Each shard is written by one thread only (its loop), so an increment is a plain load and store
/// (relaxed atomics, no read-modify-write, no cache line shared between writers). Readers sum the
/// shards. A shard can go negative (a revote on another loop than the first vote): only sums mean
/// anything.
///
/// Shard layout, in 64-bit words: [voters, option 0, option 1, …], padded to whole cache lines.
final class OptionCounters: @unchecked Sendable {
    let optionCount: Int
    private let shards: PaddedRows
    var shardCount: Int { shards.rowCount }

    init(optionCount: Int, shardCount: Int) {
        self.optionCount = optionCount
        shards = PaddedRows(rowCount: shardCount, words: 1 + optionCount)
    }

    /// Moves one voter's ballot from `old` to `new` in `shard`. Only `shard`'s own thread calls this.
    func apply(shard: Int, from old: Ballot, to new: Ballot) {
        for option in Ballot(mask: old.mask & ~new.mask).options { add(-1, shards.word(shard, 1 + option)) }
        for option in Ballot(mask: new.mask & ~old.mask).options { add(1, shards.word(shard, 1 + option)) }
        if old.isEmpty != new.isEmpty { add(new.isEmpty ? -1 : 1, shards.word(shard, 0)) }
    }

    /// Voters with a non-empty ballot.
    var voters: Int64 { sum(word: 0) }

    func count(of option: Int) -> Int64 { sum(word: 1 + option) }

    private func sum(word: Int) -> Int64 {
        var total: Int64 = 0
        for shard in 0..<shardCount { total &+= shards.word(shard, word).load(ordering: .relaxed) }
        return total
    }

    private func add(_ delta: Int64, _ counter: UnsafeAtomic<Int64>) {
        counter.store(counter.load(ordering: .relaxed) &+ delta, ordering: .relaxed)
    }
}
