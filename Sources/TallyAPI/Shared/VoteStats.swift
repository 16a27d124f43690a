import TallyBase
import TallyCore

/// One loop's vote outcomes for one dialect, for `/metrics`. Written by that loop only, read from
/// any thread.
public final class VoteStats: @unchecked Sendable {
    public enum Outcome: Int, CaseIterable {
        case accepted, unchanged, unauthorized, malformed, unavailable
    }

    private static let extra = Outcome.allCases.count
    /// The outcomes, then one counter per rejection reason.
    private let counters = SingleWriterCounters(count: VoteStats.extra + VoteRejection.allCases.count)

    init() {}

    deinit { counters.deallocate() }

    func count(_ outcome: Outcome) { counters.add(outcome.rawValue, 1) }

    func count(_ outcome: VoteOutcome) {
        switch outcome {
        case .accepted: counters.add(Outcome.accepted.rawValue, 1)
        case .unchanged: counters.add(Outcome.unchanged.rawValue, 1)
        case .rejected(let reason): counters.add(VoteStats.extra + reason.ordinal, 1)
        }
    }

    public func value(_ outcome: Outcome) -> Int64 { counters[outcome.rawValue] }
    public func rejected(_ reason: VoteRejection) -> Int64 { counters[VoteStats.extra + reason.ordinal] }
}
