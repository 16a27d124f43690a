import Atomics
import TallyCore

/// One loop's vote outcomes, for `/metrics`. Written by that loop only (relaxed load and store),
/// read from any thread.
public final class VoteStats: @unchecked Sendable {
    public enum Outcome: Int, CaseIterable {
        case accepted, unchanged, unauthorized, malformed, unavailable
    }

    private static let extra = Outcome.allCases.count
    private let words: UnsafeMutablePointer<Int64.AtomicRepresentation>
    private let count: Int

    init() {
        count = VoteStats.extra + VoteRejection.allCases.count
        words = UnsafeMutableRawPointer.allocate(byteCount: count * 8, alignment: 64)
            .bindMemory(to: Int64.AtomicRepresentation.self, capacity: count)
        words.initialize(repeating: Int64.AtomicRepresentation(0), count: count)
    }

    deinit { words.deallocate() }

    func count(_ outcome: Outcome) { bump(outcome.rawValue) }

    func count(_ outcome: VoteOutcome) {
        switch outcome {
        case .accepted: bump(Outcome.accepted.rawValue)
        case .unchanged: bump(Outcome.unchanged.rawValue)
        case .rejected(let reason): bump(VoteStats.extra + reason.ordinal)
        }
    }

    public func value(_ outcome: Outcome) -> Int64 { load(outcome.rawValue) }
    public func rejected(_ reason: VoteRejection) -> Int64 { load(VoteStats.extra + reason.ordinal) }

    private func load(_ index: Int) -> Int64 { UnsafeAtomic<Int64>(at: words + index).load(ordering: .relaxed) }

    private func bump(_ index: Int) {
        let counter = UnsafeAtomic<Int64>(at: words + index)
        counter.store(counter.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }
}
