import Foundation
import Histogram

/// The outcome of comparing tallyd's tallies with what the acknowledged votes imply.
struct TallyCheck: Codable {
    struct Poll: Codable {
        var id: String
        var reported: [Int]
        var expectedLow: [Int]
        var expectedHigh: [Int]
    }

    var polls: [Poll] = []
    /// Acknowledged votes the tallies lack, and votes in the tallies beyond the acknowledged ones.
    var lost = 0
    var extra = 0
    var uncertainVoters = 0
    var problems: [String] = []

    var passed: Bool { lost == 0 && extra == 0 && problems.isEmpty }
}

/// The JSON report of a run: its plan, totals, latency percentiles, a per-second series, the check.
struct LoadReport: Encodable {
    struct Percentiles: Encodable {
        var p50, p90, p99, p999, max: Double  // ms

        init(_ histogram: Histogram<UInt64>) {
            func ms(_ value: UInt64) -> Double { Double(value) / 1_000 }
            p50 = ms(histogram.valueAtPercentile(50))
            p90 = ms(histogram.valueAtPercentile(90))
            p99 = ms(histogram.valueAtPercentile(99))
            p999 = ms(histogram.valueAtPercentile(99.9))
            max = ms(histogram.max)
        }
    }

    struct Second: Encodable {
        var second: Int
        var arrived: Int
        var answered: Int
        var latencyMs: Percentiles
    }

    var url: String
    var profile: String
    var durationSeconds: Double
    var voters: Int
    var connections: Int
    var polls: [String]
    var sent: Int
    var unsent: Int
    var statuses: [String: Int]
    var latencyMs: Percentiles
    var generatorLagMs: Percentiles
    var seconds: [Second]
    var tallies: TallyCheck

    init(plan: LoadPlan, stats: LoadStats, check: TallyCheck) {
        url = "http://\(plan.host):\(plan.port)"
        profile = "\(plan.profile)"
        durationSeconds = plan.duration
        voters = plan.voters
        connections = plan.connections
        polls = plan.polls
        sent = stats.sent
        unsent = stats.unsent
        statuses = Dictionary(uniqueKeysWithValues: stats.statuses.map { ($0.key == 0 ? "none" : "\($0.key)", $0.value) })
        latencyMs = Percentiles(stats.latency)
        generatorLagMs = Percentiles(stats.generatorLag)
        seconds = stats.perSecond.enumerated().filter { $0.element.arrived + $0.element.answered > 0 }.map {
            Second(second: $0.offset, arrived: $0.element.arrived, answered: $0.element.answered, latencyMs: Percentiles($0.element.latency))
        }
        tallies = check
    }

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }
}
