/// A voter's chosen options: bit i set means option i (0-based) is chosen. 0 means no ballot.
public struct Ballot: Hashable, Sendable, CustomStringConvertible {
    /// The most options a poll can have: one bit each in a 64-bit word, so a ballot changes with
    /// one compare-and-swap.
    public static let maxOptions = 64
    public static let empty = Ballot(mask: 0)

    public var mask: UInt64

    public init(mask: UInt64) { self.mask = mask }

    public init(_ options: some Sequence<Int>) {
        var mask: UInt64 = 0
        for option in options { mask |= 1 << UInt64(option) }
        self.mask = mask
    }

    public var isEmpty: Bool { mask == 0 }
    public var count: Int { mask.nonzeroBitCount }
    public func contains(_ option: Int) -> Bool { option >= 0 && option < 64 && mask & (1 << UInt64(option)) != 0 }

    /// The chosen options in increasing order.
    public var options: ChosenOptions { ChosenOptions(remaining: mask) }

    public var description: String { "Ballot(\(Array(options)))" }

    public struct ChosenOptions: Sequence, IteratorProtocol {
        var remaining: UInt64
        public mutating func next() -> Int? {
            guard remaining != 0 else { return nil }
            let option = remaining.trailingZeroBitCount
            remaining &= remaining - 1
            return option
        }
    }
}

/// Accumulates the options a request names, one at a time, as a dialect decodes them — without
/// allocating — and remembers what was wrong with them for the engine to judge.
public struct BallotInput: Sendable, Equatable {
    public private(set) var ballot = Ballot.empty
    public private(set) var hasDuplicate = false
    /// An option below 0 or at or above `Ballot.maxOptions`: out of range for any poll.
    public private(set) var hasOutOfRange = false
    /// The options are added to the voter's ballot rather than replacing it (Mastodon: each vote
    /// adds choices; a choice already made, or any second vote on a single-choice poll, is
    /// `alreadyVoted`).
    public var adds = false

    public init() {}

    public init(_ options: some Sequence<Int>) {
        for option in options { add(option) }
    }

    /// Adds a 0-based option index.
    public mutating func add(_ option: Int) {
        guard option >= 0 && option < Ballot.maxOptions else {
            hasOutOfRange = true
            return
        }
        let bit: UInt64 = 1 << UInt64(option)
        if ballot.mask & bit != 0 { hasDuplicate = true }
        ballot.mask |= bit
    }
}
