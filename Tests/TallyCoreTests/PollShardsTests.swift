import Testing

@testable import TallyCore

/// A poll's shards in Redis: a voter always in the same one, the shards' slots spread evenly over
/// the slot space (so over a cluster's masters), one shard being the poll's own keys.
@Suite struct PollShardsTests {
    static func slot(_ shard: PollShard) -> Int {
        var tag = shard.tag < 0 ? "p:\(shard.poll)" : "p:\(shard.poll):\(shard.tag)"
        return tag.withUTF8 { Int(CRC16.xmodem(UnsafeRawBufferPointer($0))) & 16_383 }
    }

    @Test func oneShardIsThePollsOwnKeys() {
        let shards = PollShards(poll: 42, count: 1)
        #expect(shards.count == 1 && shards.all == [PollShard(poll: 42)])
        #expect(shards.of(VoterKey(id: "ann")) == PollShard(poll: 42))
    }

    @Test(arguments: [2, 3, 6, 12, 48]) func eachShardsSlotIsInItsOwnRangeOfTheSlotSpace(count: Int) {
        for poll in [1, 7, 1_000, 123_456_789] as [PollID] {
            let shards = PollShards(poll: poll, count: count)
            #expect(shards.count == count)
            for (index, shard) in shards.all.enumerated() {
                #expect(shard.index == Int32(index) && shard.tag >= 0)
                #expect(Self.slot(shard) * count / 16_384 == index, "poll \(poll) shard \(index): slot \(Self.slot(shard))")
            }
            #expect(Set(shards.all.map(\.tag)).count == count)
        }
    }

    @Test func votersSpreadEvenlyAndEachAlwaysToTheSameShard() {
        let shards = PollShards(poll: 9, count: 6)
        var perShard = [Int](repeating: 0, count: 6)
        for voter in 0..<60_000 { perShard[Int(shards.of(VoterKey(id: "fan-\(voter)")).index)] += 1 }
        #expect(perShard.allSatisfy { abs($0 - 10_000) < 500 }, "\(perShard)")
        #expect(shards.of(VoterKey(id: "ann")) == PollShards(poll: 9, count: 6).of(VoterKey(id: "ann")))
        #expect(PollShards(poll: 9, count: 1_000).count == PollShards.maxCount, "a count out of range is brought in")
    }
}
