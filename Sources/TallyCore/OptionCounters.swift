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
    let shardCount: Int
    private let wordsPerShard: Int
    private let words: UnsafeMutablePointer<Int64.AtomicRepresentation>

    init(optionCount: Int, shardCount: Int) {
        precondition(shardCount > 0)
        self.optionCount = optionCount
        self.shardCount = shardCount
        wordsPerShard = (1 + optionCount + 7) / 8 * 8
        let total = wordsPerShard * shardCount
        words = UnsafeMutableRawPointer.allocate(byteCount: total * 8, alignment: 64)
            .bindMemory(to: Int64.AtomicRepresentation.self, capacity: total)
        words.initialize(repeating: Int64.AtomicRepresentation(0), count: total)
    }

    deinit { words.deallocate() }

    /// Moves one voter's ballot from `old` to `new` in `shard`. Only `shard`'s own thread calls this.
    func apply(shard: Int, from old: Ballot, to new: Ballot) {
        let base = words + shard * wordsPerShard
        for option in Ballot(mask: old.mask & ~new.mask).options { add(-1, at: base + 1 + option) }
        for option in Ballot(mask: new.mask & ~old.mask).options { add(1, at: base + 1 + option) }
        if old.isEmpty != new.isEmpty { add(new.isEmpty ? -1 : 1, at: base) }
    }

    /// Voters with a non-empty ballot.
    var voters: Int64 { sum(word: 0) }

    func count(of option: Int) -> Int64 { sum(word: 1 + option) }

    private func sum(word: Int) -> Int64 {
        var total: Int64 = 0
        for shard in 0..<shardCount {
            total &+= UnsafeAtomic<Int64>(at: words + shard * wordsPerShard + word).load(ordering: .relaxed)
        }
        return total
    }

    private func add(_ delta: Int64, at word: UnsafeMutablePointer<Int64.AtomicRepresentation>) {
        let counter = UnsafeAtomic<Int64>(at: word)
        counter.store(counter.load(ordering: .relaxed) &+ delta, ordering: .relaxed)
    }
}
