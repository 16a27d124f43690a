/// Why a vote was refused. Each dialect maps every case to its documented status and message, so
/// each case is one precise reason.
public enum VoteRejection: String, Error, Sendable, CaseIterable {
    case unknownPoll
    /// The poll is a draft.
    case notOpenYet
    /// The poll was closed (by an organizer or the close worker).
    case closed
    /// The poll's end date has passed (whether or not the close worker has run yet).
    case expired
    /// An option the poll does not have.
    case optionOutOfRange
    /// The same option named twice.
    case duplicateOption
    /// More options than `maxVotes` allows.
    case tooManyOptions
    /// No option named, on a poll where a ballot cannot be withdrawn (revote off).
    case emptyBallot
    /// The voter has a different ballot already and the poll does not allow revoting.
    case alreadyVoted
    /// A private poll and no poll token.
    case tokenRequired
    /// A private poll and a wrong or malformed poll token.
    case tokenInvalid
    /// The poll's ledger cannot grow any further (a capacity bound, answered like an overload).
    case ledgerFull
}

extension VoteRejection {
    /// 0 ..< `allCases.count`, for counters indexed by reason (no array built on the vote path).
    public var ordinal: Int {
        switch self {
        case .unknownPoll: 0
        case .notOpenYet: 1
        case .closed: 2
        case .expired: 3
        case .optionOutOfRange: 4
        case .duplicateOption: 5
        case .tooManyOptions: 6
        case .emptyBallot: 7
        case .alreadyVoted: 8
        case .tokenRequired: 9
        case .tokenInvalid: 10
        case .ledgerFull: 11
        }
    }
}
