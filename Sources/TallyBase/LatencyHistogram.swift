/// A histogram of durations in microseconds, written by one thread and read by `/metrics` from any.
public final class LatencyHistogram: @unchecked Sendable {
    /// Upper bounds of the buckets, in microseconds (then +Inf): fine below 2 ms, where a vote's
    /// answer and a Redis round trip fall, so that a p99 can be read from them.
    public static let bucketBounds: [Int64] = [
        50, 100, 150, 200, 300, 400, 500, 750, 1_000, 1_500, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000,
    ]
    /// The sum, then one count per bucket.
    private let counters = SingleWriterCounters(count: 1 + bucketBounds.count + 1)

    public init() {}

    deinit { counters.deallocate() }

    public var sumMicroseconds: Int64 { counters[0] }
    /// Observations per bucket (not cumulative); the last is above every bound.
    public func bucket(_ index: Int) -> Int64 { counters[1 + index] }

    /// Only from the writing thread.
    public func observe(microseconds: Int64) {
        counters.add(0, microseconds)
        var bucket = 0
        while bucket < LatencyHistogram.bucketBounds.count && microseconds > LatencyHistogram.bucketBounds[bucket] { bucket += 1 }
        counters.add(1 + bucket, 1)
    }
}
