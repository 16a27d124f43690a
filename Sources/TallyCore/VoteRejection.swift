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
