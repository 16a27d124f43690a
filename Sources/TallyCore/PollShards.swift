/// One of a poll's shards in Redis: a sub-poll holding its voters' ballots, its own tallies and a
/// copy of the rules, so one vote-script call touches one Redis Cluster slot (`KeySchema`).
public struct PollShard: Hashable, Sendable {
    public let poll: PollID
    /// Its place among the poll's shards, 0 ..< shards.
    public let index: Int32
    /// The number in its keys' hash tag `{p:ID:TAG}`; -1 for a poll of one shard, whose keys are the
    /// poll's own `{p:ID}`.
    public let tag: Int32

    /// The one shard of an unsharded poll.
    public init(poll: PollID) { self.init(poll: poll, index: 0, tag: -1) }

    init(poll: PollID, index: Int32, tag: Int32) {
        self.poll = poll
        self.index = index
        self.tag = tag
    }
}

/// A poll's shards, fixed when it is created (`PollDefinition.shards`). A voter's shard is their
/// id's `StableHash` modulo the count, the same on every daemon.
///
/// Shard k's hash tag is `p:ID:TAG` with TAG the smallest number whose slot (CRC16, as Redis Cluster
/// hashes keys) falls in the k-th of `count` equal ranges of the 16 384 slots. A cluster made by
/// `redis-cli --cluster create` gives each master one such range of slots, so with a multiple of the
/// masters as the count, each master serves the same number of shards; tags numbered 0 ..< count
/// would land where CRC16 puts them (all six shards on three masters evenly only one time in eight).
public struct PollShards: Sendable {
    public let poll: PollID
    /// Each shard's tag; empty for one shard.
    private let tags: [Int32]

    public static let maxCount = 256

    /// - Parameter count: 1 ... `maxCount` (a count outside is brought inside; `PollDefinition`
    ///   refuses one).
    public init(poll: PollID, count: Int) {
        self.poll = poll
        let count = min(max(count, 1), PollShards.maxCount)
        guard count > 1 else {
            tags = []
            return
        }
        var tags = [Int32](repeating: -1, count: count)
        var missing = count
        var candidate: Int32 = 0
        while missing > 0 {
            var tag = "p:\(poll):\(candidate)"
            let slot = tag.withUTF8 { Int(CRC16.xmodem(UnsafeRawBufferPointer($0))) & 16_383 }
            let range = slot * count / 16_384
            if tags[range] < 0 {
                tags[range] = candidate
                missing -= 1
            }
            candidate += 1
        }
        self.tags = tags
    }

    public var count: Int { max(tags.count, 1) }

    public subscript(index: Int) -> PollShard {
        tags.isEmpty ? PollShard(poll: poll) : PollShard(poll: poll, index: Int32(index), tag: tags[index])
    }

    /// Every shard, in order.
    public var all: [PollShard] { (0..<count).map { self[$0] } }

    /// The shard that holds `voter`'s ballot.
    @inline(__always)
    public func of(_ voter: VoterKey) -> PollShard {
        tags.isEmpty ? PollShard(poll: poll) : self[Int(voter.high % UInt64(tags.count))]
    }
}
