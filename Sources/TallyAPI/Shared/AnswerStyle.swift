import TallyCore
import TallyHTTP

/// How one dialect says what went wrong, in its own status codes and body shape: every engine
/// rejection, a missing or bad credential, a store that cannot take votes, and transport errors
/// (404, 405, 400, 408, 413, 431, …) under its mount. The desks call it; a dialect only writes.
public protocol AnswerStyle {
    func write(_ rejection: VoteRejection, _ response: ResponseWriter)
    /// A request without a usable voter credential (`missing`, `invalid`, `expired`).
    func write(_ credential: VoterCheck, _ response: ResponseWriter)
    /// Redis cannot store votes right now: nothing was stored (with `Retry-After`).
    func writeUnavailable(_ response: ResponseWriter)
    /// A refused organizer call: a field or definition the dialect's rules refuse, a state that
    /// does not allow the call, a caller who may not make it.
    func write(_ error: AdminError, _ response: ResponseWriter)
    /// Transport and routing errors under the dialect's mount.
    func write(_ error: HTTPError, _ response: ResponseWriter)
}

/// Why an organizer's (or, where the dialect allows it, a voter's) call on a poll was refused.
public enum AdminError: Error {
    /// A request field is missing, malformed or not allowed: the message says which.
    case invalidField(String)
    /// The poll the fields describe breaks a rule (the engine's or the dialect's limits).
    case invalidPoll(String)
    case unknownPoll
    /// The call does not apply in the poll's current state.
    case invalidTransition(from: Lifecycle, action: String)
    /// No credential at all.
    case credentialsRequired
    /// A credential that may not do this.
    case forbidden
    /// The poll changed (another organizer's edit, a close at its end date) after the version the
    /// change was made from: nothing was saved.
    case changedMeanwhile
    /// The same, against the version the client named (`If-Match`).
    case preconditionFailed

    public init(_ error: PollAdminError) {
        switch error {
        case .unknownPoll: self = .unknownPoll
        case .invalidDefinition(let reason): self = .invalidPoll(reason)
        case .invalidTransition(let from, let action): self = .invalidTransition(from: from, action: action)
        }
    }
}
