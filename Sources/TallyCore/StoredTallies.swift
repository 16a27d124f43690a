import Atomics

/// A poll's tallies as the store (Redis, shared by every daemon) last reported them, so that each
/// daemon's results include the votes stored through the others.
///
/// The store numbers its tallies with a version that grows with every change. Each writer (each
/// event loop, from its vote-script replies, and the results follower) has a slot of its own, a
/// seqlock that only its thread writes: writing never waits, reading never blocks a writer and
/// allocates nothing. Readers take the slot with the newest version.
///
/// Slot layout, in 64-bit words: [sequence, version, voters, option 0, option 1, …], padded to
/// whole cache lines. The sequence is odd while its writer is mid-write.
final class StoredTallies: @unchecked Sendable {
    let optionCount: Int
    private let slots: PaddedRows
    var slotCount: Int { slots.rowCount }

    init(optionCount: Int, slotCount: Int) {
        self.optionCount = optionCount
        slots = PaddedRows(rowCount: slotCount, words: 3 + optionCount)
    }

    private func word(_ slot: Int, _ index: Int) -> UnsafeAtomic<Int64> { slots.word(slot, index) }

    /// Records tallies the store reported at `version`, unless this slot already has newer ones.
    /// Only `slot`'s own thread calls this.
    func record(slot: Int, version: Int64, voters: Int64, count: (Int) -> Int64) {
        let sequence = word(slot, 0)
        guard version > word(slot, 1).load(ordering: .relaxed) else { return }
        let start = sequence.load(ordering: .relaxed)
        sequence.store(start &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        word(slot, 1).store(version, ordering: .relaxed)
        word(slot, 2).store(voters, ordering: .relaxed)
        for option in 0..<optionCount { word(slot, 3 + option).store(count(option), ordering: .relaxed) }
        sequence.store(start &+ 2, ordering: .releasing)
    }

    /// The newest tallies of any slot: (version, voters) with `counts` filled in; nil if the store
    /// has reported none yet (or, rarely, its slot was mid-write every time it was read).
    func newest(into counts: inout InlineArray<64, Int64>) -> (version: Int64, voters: Int64)? {
        var best: (slot: Int, version: Int64)?
        for slot in 0..<slotCount {
            let version = word(slot, 1).load(ordering: .relaxed)
            if version > 0 && version > (best?.version ?? 0) { best = (slot, version) }
        }
        guard let best else { return nil }
        // A consistent copy of that slot; its writer only ever moves it to a newer version, so a
        // retry reads tallies at least as new. A writer stopped mid-write is not waited for.
        for _ in 0..<64 {
            let before = word(best.slot, 0).load(ordering: .acquiring)
            if before & 1 == 1 { continue }
            let version = word(best.slot, 1).load(ordering: .relaxed)
            let voters = word(best.slot, 2).load(ordering: .relaxed)
            for option in 0..<optionCount { counts[option] = word(best.slot, 3 + option).load(ordering: .relaxed) }
            atomicMemoryFence(ordering: .acquiring)
            if word(best.slot, 0).load(ordering: .relaxed) == before { return (version, voters) }
        }
        return nil
    }
}
