import TallyBase

/// One loop's transport counters. Written by the loop's thread only, read by `/metrics` from any.
public final class LoopStats: @unchecked Sendable {
    private enum Word: Int, CaseIterable {
        case openConnections, acceptedConnections, status2xx, status3xx, status4xx, status5xx, timeouts
    }
    private let counters = SingleWriterCounters(count: Word.allCases.count)
    /// Time from a request's first byte to its response being ready.
    public let latency = LatencyHistogram()

    init() {}

    deinit { counters.deallocate() }

    public var openConnections: Int64 { counters[Word.openConnections.rawValue] }
    public var acceptedConnections: Int64 { counters[Word.acceptedConnections.rawValue] }
    public var timeouts: Int64 { counters[Word.timeouts.rawValue] }
    /// Responses by status class (2 for 2xx … 5 for 5xx).
    public func responses(class digit: Int) -> Int64 { counters[Word.status2xx.rawValue + digit - 2] }

    func opened() {
        add(.openConnections, 1)
        add(.acceptedConnections, 1)
    }

    func closed() { add(.openConnections, -1) }
    func timedOut() { add(.timeouts, 1) }

    func responded(status: Int) {
        let digit = min(max(status / 100, 2), 5)
        counters.add(Word.status2xx.rawValue + digit - 2, 1)
    }

    private func add(_ word: Word, _ delta: Int64) { counters.add(word.rawValue, delta) }
}
