import Dispatch
import Synchronization
import Testing

@testable import TallyCore

/// The store's tallies as a poll keeps them: newest version wins, and a reader never sees a torn copy.
@Suite struct StoredTalliesTests {
    func read(_ tallies: StoredTallies) -> (version: Int64, voters: Int64, counts: [Int64])? {
        var counts = InlineArray<64, Int64>(repeating: 0)
        guard let newest = tallies.newest(into: &counts) else { return nil }
        return (newest.version, newest.voters, (0..<tallies.optionCount).map { counts[$0] })
    }

    @Test func theNewestVersionOfAnySlotWinsAndOlderOnesAreIgnored() {
        let tallies = StoredTallies(optionCount: 3, slotCount: 3)
        #expect(read(tallies) == nil, "nothing reported yet")
        tallies.record(slot: 0, version: 4, voters: 4, count: { [2, 1, 1][$0] })
        tallies.record(slot: 2, version: 3, voters: 3, count: { [1, 1, 1][$0] })
        #expect(read(tallies)?.counts == [2, 1, 1])
        tallies.record(slot: 2, version: 6, voters: 6, count: { [3, 2, 1][$0] })
        #expect(read(tallies)?.version == 6 && read(tallies)?.counts == [3, 2, 1])
        tallies.record(slot: 2, version: 5, voters: 5, count: { _ in 9 })
        #expect(read(tallies)?.version == 6, "a slot never goes back to an older version")
    }

    @Test func aShardedPollsTalliesAreTheSumOfEachShardsNewestOnceEveryShardReported() {
        let tallies = StoredTallies(optionCount: 2, slotCount: 2, shardCount: 3)
        tallies.record(slot: 0, shard: 0, version: 2, voters: 2, count: { [1, 1][$0] })
        tallies.record(slot: 1, shard: 1, version: 5, voters: 3, count: { [3, 0][$0] })
        #expect(read(tallies) == nil, "shard 2 not reported: its voters would be missing")
        tallies.record(slot: 1, shard: 2, version: 0, voters: 0, count: { _ in 0 })
        #expect(read(tallies).map { [$0.version, $0.voters] + $0.counts } == [7, 5, 4, 1], "a shard nobody voted in counts as zero")
        tallies.record(slot: 0, shard: 1, version: 4, voters: 9, count: { _ in 9 })
        tallies.record(slot: 0, shard: 0, version: 3, voters: 3, count: { [2, 1][$0] })
        #expect(read(tallies).map { [$0.version, $0.voters] + $0.counts } == [8, 6, 5, 1], "each shard's newest, whichever slot has it")
    }

    @Test func readersNeverSeeATornCopyWhileWritersRecord() {
        let tallies = StoredTallies(optionCount: 8, slotCount: 2)
        let done = Atomic(false)
        let problems = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            if thread < 2 {
                // Two writers, one slot each, interleaving versions: slot 0 even, slot 1 odd.
                for step in 1...100_000 {
                    let version = Int64(2 * step + thread)
                    tallies.record(slot: thread, version: version, voters: version) { version * Int64($0 + 1) }
                }
                if thread == 0 { done.store(true, ordering: .releasing) }
            } else {
                var last: Int64 = 0
                while !done.load(ordering: .acquiring) {
                    guard let seen = read(tallies) else { continue }
                    // Each slot only moves forward, so neither does the newest of them.
                    let consistent = seen.voters == seen.version && seen.counts == (0..<8).map { seen.version * Int64($0 + 1) }
                    if !consistent || seen.version < last {
                        problems.withLock { $0.append("after \(last): \(seen)") }
                        return
                    }
                    last = max(last, seen.version)
                }
            }
        }
        #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0 }.prefix(3))")
        #expect(read(tallies)?.version ?? 0 >= 200_000)
    }
}
