/// What the system of record (Redis) made of a vote the engine recorded.
public enum StoredVerdict: Equatable, Sendable {
    /// Stored; the voter's ballot before it, as the store knew it.
    case accepted(previous: Ballot)
    /// The store already had exactly this ballot.
    case unchanged
    /// The store refused it (e.g. the voter voted through another daemon, or the poll closed there).
    case rejected(VoteRejection)
    /// Not stored, and never will be: it was never sent, or the store ran it after the deadline
    /// its daemon gave it, or a look-up after that deadline found another ballot.
    case notStored
    /// No answer (the connection dropped or timed out): maybe stored, maybe not.
    case unknown
}
