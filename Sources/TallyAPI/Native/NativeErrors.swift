import TallyCore
import TallyHTTP

/// The native API's answers: `{"error": message, "code": code}` with the status each case has in
/// `openapi.yaml`.
struct NativeStyle: AnswerStyle {
    func write(_ rejection: VoteRejection, _ response: ResponseWriter) {
        switch rejection {
        case .unknownPoll: response.writeError(status: 404, code: "poll_not_found", message: "no poll has this id")
        case .notOpenYet: response.writeError(status: 409, code: "poll_not_open", message: "the poll is not open yet")
        case .closed: response.writeError(status: 409, code: "poll_closed", message: "the poll is closed")
        case .expired: response.writeError(status: 409, code: "poll_expired", message: "the poll has ended")
        case .optionOutOfRange: response.writeError(status: 422, code: "option_out_of_range", message: "the poll has no such option")
        case .duplicateOption: response.writeError(status: 422, code: "duplicate_option", message: "an option is named twice")
        case .tooManyOptions: response.writeError(status: 422, code: "too_many_options", message: "more options than the poll allows")
        case .emptyBallot: response.writeError(status: 422, code: "empty_ballot", message: "choose at least one option")
        case .alreadyVoted: response.writeError(status: 409, code: "already_voted", message: "you have already voted in this poll")
        case .tokenRequired: response.writeError(status: 403, code: "poll_token_required", message: "this poll is private: pass its token")
        case .tokenInvalid: response.writeError(status: 403, code: "poll_token_invalid", message: "the poll token is not valid")
        case .ledgerFull:
            response.writeError(
                status: 503, code: "overloaded", message: "the poll cannot take more voters right now",
                extraHeaders: "Retry-After: 1\r\n")
        }
    }

    func write(_ credential: VoterCheck, _ response: ResponseWriter) {
        let challenge: StaticString = "WWW-Authenticate: Bearer realm=\"tally\"\r\n"
        switch credential {
        case .missing:
            response.writeError(status: 401, code: "credentials_required", message: "send a voter token", extraHeaders: challenge)
        case .expired:
            response.writeError(status: 401, code: "token_expired", message: "the voter token has expired", extraHeaders: challenge)
        case .invalid, .voter:
            response.writeError(status: 401, code: "invalid_token", message: "the voter token is not valid", extraHeaders: challenge)
        }
    }

    /// Redis cannot store anything right now: nothing was recorded, try again shortly.
    func writeUnavailable(_ response: ResponseWriter) {
        response.writeError(
            status: 503, code: "store_unavailable", message: "votes cannot be stored right now; try again",
            extraHeaders: "Retry-After: 1\r\n")
    }

    func write(_ error: AdminError, _ response: ResponseWriter) {
        switch error {
        case .invalidField(let message): response.writeError(status: 400, code: "invalid_request", detail: message)
        case .invalidPoll(let reason): response.writeError(status: 400, code: "invalid_poll", detail: reason)
        case .unknownPoll: write(VoteRejection.unknownPoll, response)
        case .invalidTransition(let from, let action):
            response.writeError(status: 409, code: "invalid_transition", detail: "cannot \(action) a poll that is \(from)")
        case .credentialsRequired:
            response.writeError(
                status: 401, code: "credentials_required", message: "this needs an organizer token",
                extraHeaders: "WWW-Authenticate: Bearer realm=\"tally\"\r\n")
        case .forbidden: response.writeError(status: 403, code: "forbidden", message: "this needs an organizer token")
        case .changedMeanwhile:
            response.writeError(
                status: 409, code: "conflict", message: "the poll changed meanwhile (another organizer, or its end date): read it and try again")
        case .preconditionFailed:
            response.writeError(status: 412, code: "precondition_failed", message: "the poll is no longer at the version If-Match names")
        }
    }

    func write(_ error: HTTPError, _ response: ResponseWriter) { HTTPError.writeNative(error, response) }
}

extension ResponseWriter {
    /// An error whose message is built at run time (admin path).
    func writeError(status: Int, code: StaticString, detail: String) {
        writeJSON(status: status) { json in
            json.object { error in
                error.field("error", string: detail)
                error.field("code", code)
            }
        }
    }
}
