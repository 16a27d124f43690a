import Histogram

/// What a run measured: latency from each vote's release by the generator's clock to its answer
/// (µs), answers by status (0: none — timeout or broken connection), and the same per second of the
/// run; and how late the clock released arrivals against their exact times (`generatorLag`).
struct LoadStats {
    struct Second {
        var arrived = 0
        var answered = 0
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .two)

        mutating func add(_ other: Second) {
            arrived += other.arrived
            answered += other.answered
            latency.add(other.latency)
        }
    }

    var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var generatorLag = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .two)
    var statuses: [Int: Int] = [:]
    var perSecond: [Second]
    var sent = 0
    /// Arrivals never sent: the run ended with them still waiting for a connection.
    var unsent = 0
    var reportedSeconds = 0

    init(seconds: Int) { perSecond = Array(repeating: Second(), count: seconds) }

    var answered: Int { statuses.values.reduce(0, +) }

    mutating func arrived(second: Int, lagMicroseconds: UInt64) {
        generatorLag.record(lagMicroseconds)
        if second < perSecond.count { perSecond[second].arrived += 1 }
    }

    mutating func answered(second: Int, latencyMicroseconds: UInt64, status: Int?) {
        latency.record(latencyMicroseconds)
        statuses[status ?? 0, default: 0] += 1
        guard second < perSecond.count else { return }
        perSecond[second].answered += 1
        perSecond[second].latency.record(latencyMicroseconds)
    }

    /// Adds another generator thread's figures to these.
    mutating func add(_ other: LoadStats) {
        latency.add(other.latency)
        generatorLag.add(other.generatorLag)
        statuses.merge(other.statuses, uniquingKeysWith: +)
        sent += other.sent
        unsent += other.unsent
        for (second, figures) in other.perSecond.enumerated() where second < perSecond.count {
            perSecond[second].add(figures)
        }
    }

    /// "12.3 ms" style, from µs.
    static func milliseconds(_ microseconds: UInt64) -> String {
        microseconds >= 10_000 ? "\(microseconds / 1_000) ms" : String(Double(microseconds) / 1_000) + " ms"
    }
}
