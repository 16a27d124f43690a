import TallyCore
import TallyHTTP

extension ResponseWriter {
    /// The native answer to each engine rejection.
    func write(_ rejection: VoteRejection) {
        switch rejection {
        case .unknownPoll: writeError(status: 404, code: "poll_not_found", message: "no poll has this id")
        case .notOpenYet: writeError(status: 409, code: "poll_not_open", message: "the poll is not open yet")
        case .closed: writeError(status: 409, code: "poll_closed", message: "the poll is closed")
        case .expired: writeError(status: 409, code: "poll_expired", message: "the poll has ended")
        case .optionOutOfRange: writeError(status: 422, code: "option_out_of_range", message: "the poll has no such option")
        case .duplicateOption: writeError(status: 422, code: "duplicate_option", message: "an option is named twice")
        case .tooManyOptions: writeError(status: 422, code: "too_many_options", message: "more options than the poll allows")
        case .emptyBallot: writeError(status: 422, code: "empty_ballot", message: "choose at least one option")
        case .alreadyVoted: writeError(status: 409, code: "already_voted", message: "you have already voted in this poll")
        case .tokenRequired: writeError(status: 403, code: "poll_token_required", message: "this poll is private: pass its token")
        case .tokenInvalid: writeError(status: 403, code: "poll_token_invalid", message: "the poll token is not valid")
        case .ledgerFull:
            writeError(
                status: 503, code: "overloaded", message: "the poll cannot take more voters right now",
                extraHeaders: "Retry-After: 1\r\n")
        }
    }

    /// Redis cannot store anything right now: nothing was recorded, try again shortly.
    func writeUnavailable() {
        writeError(
            status: 503, code: "store_unavailable", message: "votes cannot be stored right now; try again",
            extraHeaders: "Retry-After: 1\r\n")
    }

    /// The native answer to a request without a valid voter credential.
    func write(_ check: VoterCheck) {
        let challenge: StaticString = "WWW-Authenticate: Bearer realm=\"tally\"\r\n"
        switch check {
        case .missing: writeError(status: 401, code: "credentials_required", message: "send a voter token", extraHeaders: challenge)
        case .expired: writeError(status: 401, code: "token_expired", message: "the voter token has expired", extraHeaders: challenge)
        case .invalid, .voter: writeError(status: 401, code: "invalid_token", message: "the voter token is not valid", extraHeaders: challenge)
        }
    }

    /// An error whose message is built at run time (admin path).
    func writeError(status: Int, code: StaticString, detail: String) {
        writeJSON(status: status) { json in
            json.object { error in
                error.field("error", detail)
                error.field("code", code)
            }
        }
    }
}
