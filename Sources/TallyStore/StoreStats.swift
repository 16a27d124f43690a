import TallyHTTP

/// One loop's vote writes to Redis, for `/metrics`: how many script calls, how many votes they
/// carried (their ratio is the group-commit batch size), and each call's round trip. Written by the
/// loop's thread only.
public final class StoreStats: @unchecked Sendable {
    private let counters = SingleWriterCounters(count: 2)
    /// From a vote-script call sent (written at the end of that loop iteration) to its reply read.
    public let roundTrip = LatencyHistogram()

    init() {}

    deinit { counters.deallocate() }

    public var scriptCalls: Int64 { counters[0] }
    public var votesSent: Int64 { counters[1] }

    func sent(votes: Int) {
        counters.add(0, 1)
        counters.add(1, Int64(votes))
    }
}
