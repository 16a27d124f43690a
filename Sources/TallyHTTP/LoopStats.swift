import Atomics

/// One loop's transport counters. Written by the loop's thread only (plain relaxed load and store,
/// no read-modify-write), read by `/metrics` from any thread.
public final class LoopStats: @unchecked Sendable {
    private let words: UnsafeMutablePointer<Int64.AtomicRepresentation>
    private enum Word: Int, CaseIterable {
        case openConnections, acceptedConnections, requests, status2xx, status3xx, status4xx, status5xx, timeouts
    }

    init() {
        words = .allocate(capacity: 8)  // one cache line
        words.initialize(repeating: Int64.AtomicRepresentation(0), count: 8)
    }

    deinit { words.deallocate() }

    public var openConnections: Int64 { load(.openConnections) }
    public var acceptedConnections: Int64 { load(.acceptedConnections) }
    public var requests: Int64 { load(.requests) }
    public var timeouts: Int64 { load(.timeouts) }
    /// Responses by status class: index 0 for 2xx … 3 for 5xx.
    public func responses(class digit: Int) -> Int64 { load(Word(rawValue: Word.status2xx.rawValue + digit - 2)!) }

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
