import Atomics

/// One loop's transport counters. Written by the loop's thread only (plain relaxed load and store,
/// no read-modify-write), read by `/metrics` from any thread.
public final class LoopStats: @unchecked Sendable {
    private let words: UnsafeMutablePointer<Int64.AtomicRepresentation>
    private enum Word: Int, CaseIterable {
        case openConnections, acceptedConnections, requests, status2xx, status3xx, status4xx, status5xx, timeouts
        case latencySumMicroseconds, latencyBuckets
    }

    /// Upper bounds of the latency histogram's buckets, in microseconds (then +Inf): fine below
    /// 2 ms, where a vote's answer falls (a Redis round trip), so that a p99 can be read from them.
    public static let latencyBucketBounds: [Int64] = [
        50, 100, 150, 200, 300, 400, 500, 750, 1_000, 1_500, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000,
    ]
    private static let wordCount = Word.latencyBuckets.rawValue + latencyBucketBounds.count + 1

    init() {
        words = UnsafeMutableRawPointer.allocate(byteCount: LoopStats.wordCount * 8, alignment: 64)
            .bindMemory(to: Int64.AtomicRepresentation.self, capacity: LoopStats.wordCount)
        words.initialize(repeating: Int64.AtomicRepresentation(0), count: LoopStats.wordCount)
    }

    deinit { words.deallocate() }

    public var openConnections: Int64 { load(.openConnections) }
    public var acceptedConnections: Int64 { load(.acceptedConnections) }
    public var requests: Int64 { load(.requests) }
    public var timeouts: Int64 { load(.timeouts) }
    /// Responses by status class (2 for 2xx … 5 for 5xx).
    public func responses(class digit: Int) -> Int64 { load(Word(rawValue: Word.status2xx.rawValue + digit - 2)!) }
    public var latencySumMicroseconds: Int64 { load(.latencySumMicroseconds) }
    /// Requests per latency bucket (not cumulative); the last is above every bound.
    public func latencyBucket(_ index: Int) -> Int64 { UnsafeAtomic<Int64>(at: words + Word.latencyBuckets.rawValue + index).load(ordering: .relaxed) }

    /// Time from a request's first byte to its response being ready.
    func observe(microseconds: Int64) {
        add(.latencySumMicroseconds, microseconds)
        var bucket = 0
        while bucket < LoopStats.latencyBucketBounds.count && microseconds > LoopStats.latencyBucketBounds[bucket] { bucket += 1 }
        let counter = UnsafeAtomic<Int64>(at: words + Word.latencyBuckets.rawValue + bucket)
        counter.store(counter.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    func opened() {
        add(.openConnections, 1)
        add(.acceptedConnections, 1)
    }

    func closed() { add(.openConnections, -1) }
    func timedOut() { add(.timeouts, 1) }

    func responded(status: Int) {
        add(.requests, 1)
        let digit = min(max(status / 100, 2), 5)
        add(Word(rawValue: Word.status2xx.rawValue + digit - 2)!, 1)
    }

    private func atomic(_ word: Word) -> UnsafeAtomic<Int64> { UnsafeAtomic(at: words + word.rawValue) }
    private func load(_ word: Word) -> Int64 { atomic(word).load(ordering: .relaxed) }

    private func add(_ word: Word, _ delta: Int64) {
        let counter = atomic(word)
        counter.store(counter.load(ordering: .relaxed) &+ delta, ordering: .relaxed)
    }
}
