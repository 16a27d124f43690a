import TallyBase

/// One loop's vote writes to Redis, for `/metrics`: how many script calls, how many votes they
/// carried (their ratio is the group-commit batch size), each call's round trip, and the durability
/// its Redis connections promise (the weakest). Written by the loop's thread only.
public final class StoreStats: @unchecked Sendable {
    private let counters = SingleWriterCounters(count: 6)
    /// From a vote-script call sent (written at the end of that loop iteration) to its reply read.
    public let roundTrip = LatencyHistogram()

    init() {}

    deinit { counters.deallocate() }

    public var scriptCalls: Int64 { counters[0] }
    public var votesSent: Int64 { counters[1] }
    /// As last read from Redis (`unknown` before the first reading).
    public var durability: RedisDurability { RedisDurability(rawValue: Int(counters[2])) ?? .unknown }

    /// Batches whose `WAIT` for `[redis] replicas_to_ack` replicas timed out (their votes got 503).
    public var replicaShortfalls: Int64 { counters[3] }

    /// Redis Cluster redirections followed: `MOVED` (the slot moved for good), `ASK` (mid-move).
    public var moved: Int64 { counters[4] }
    public var asked: Int64 { counters[5] }

    func redirected(asked: Bool) { counters.add(asked ? 5 : 4, 1) }

    func record(_ durability: RedisDurability) { counters.set(2, Int64(durability.rawValue)) }

    func replicasFellShort() { counters.add(3, 1) }

    func sent(votes: Int) {
        counters.add(0, 1)
        counters.add(1, Int64(votes))
    }
}
