import TallyCore
import TallyHTTP

/// Mastodon's answers: `{"error": message}` with its status codes and its own words (validation
/// messages from `app/validators/vote_validator.rb` and `config/locales/en.yml` of
/// mastodon/mastodon; 401 from Doorkeeper; 404 from `Api::BaseController`).
struct MastodonStyle: AnswerStyle {
    func write(_ rejection: VoteRejection, _ response: ResponseWriter) {
        switch rejection {
        // Mastodon has no drafts and no poll tokens: such polls are not there for its clients.
        case .unknownPoll, .notOpenYet, .tokenRequired, .tokenInvalid: notFound(response)
        case .closed, .expired: invalid("Validation failed: The poll has already ended", response)
        case .optionOutOfRange: invalid("Validation failed: The chosen vote option does not exist", response)
        // A choice named twice, or a second choice on a single-choice poll: Mastodon creates one vote
        // per choice, and the second is one already made.
        case .duplicateOption, .tooManyOptions, .alreadyVoted: invalid("Validation failed: You have already voted on this poll", response)
        case .emptyBallot: missingChoices(response)
        case .ledgerFull:
            response.writeJSON(status: 503, extraHeaders: "Retry-After: 1\r\n") { json in
                json.object { $0.field("error", "This poll cannot take more voters right now") }
            }
        }
    }

    func write(_ credential: VoterCheck, _ response: ResponseWriter) {
        response.writeJSON(status: 401) { json in json.object { $0.field("error", "The access token is invalid") } }
    }

    func writeUnavailable(_ response: ResponseWriter) {
        response.writeJSON(status: 503, extraHeaders: "Retry-After: 1\r\n") { json in
            json.object { $0.field("error", "Votes cannot be stored right now; try again") }
        }
    }

    func write(_ error: AdminError, _ response: ResponseWriter) {
        switch error {
        case .invalidField(let message), .invalidPoll(let message):
            response.writeJSON(status: 422) { json in json.object { $0.field("error", string: message) } }
        case .unknownPoll: notFound(response)
        case .invalidTransition, .changedMeanwhile, .preconditionFailed:
            response.writeJSON(status: 422) { json in json.object { $0.field("error", "Validation failed") } }
        case .credentialsRequired: write(VoterCheck.missing, response)
        case .forbidden: response.writeJSON(status: 403) { json in json.object { $0.field("error", "This action is not allowed") } }
        }
    }

    /// Rails answers an unknown route, and a known one with another method, 404.
    func write(_ error: HTTPError, _ response: ResponseWriter) {
        let message: StaticString
        switch error {
        case .notFound, .methodNotAllowed: return notFound(response)
        case .malformedRequest: message = "Bad request"
        case .requestTimeout: message = "Request timeout"
        case .bodyTooLarge: message = "Request entity too large"
        case .headersTooLarge: message = "Request header fields too large"
        case .noResponse: message = "Internal server error"
        case .methodNotImplemented: message = "Not implemented"
        case .tooManyConnections: message = "Service unavailable"
        }
        response.writeJSON(status: error.status) { json in json.object { $0.field("error", message) } }
    }

    func notFound(_ response: ResponseWriter) {
        response.writeJSON(status: 404) { json in json.object { $0.field("error", "Record not found") } }
    }

    /// `params.require(:choices)` (Rails: ActionController::ParameterMissing, 400).
    func missingChoices(_ response: ResponseWriter) {
        response.writeJSON(status: 400) { json in json.object { $0.field("error", "param is missing or the value is empty: choices") } }
    }

    func invalid(_ message: StaticString, _ response: ResponseWriter) {
        response.writeJSON(status: 422) { json in json.object { $0.field("error", message) } }
    }
}
