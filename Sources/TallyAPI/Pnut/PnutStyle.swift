import TallyCore
import TallyHTTP

/// pnut.io's answers: every body in the envelope `{"meta":{"code":N},"data":…}`, errors as
/// `{"meta":{"code":N,"error_message":"…"}}`, with the same HTTP status (pnutpy ignores the status
/// and reads `meta.code`; a 400 without `error_message` breaks it). pnut's server is not public:
/// the messages are Tally's, in pnut's documented shape.
struct PnutStyle: AnswerStyle {
    /// A success: `data` written by `body`.
    func write(status: Int = 200, _ response: ResponseWriter, meta: (inout JSONWriter) -> Void = { _ in }, _ body: (inout JSONWriter) -> Void) {
        response.writeJSON(status: status) { json in
            json.object { root in
                root.key("meta")
                root.object { fields in
                    fields.field("code", status)
                    meta(&fields)
                }
                root.key("data")
                body(&root)
            }
        }
    }

    func error(_ status: Int, _ message: StaticString, _ response: ResponseWriter, extraHeaders: StaticString = "") {
        error(status, response, extraHeaders: extraHeaders) { $0.value(message) }
    }

    /// The same for a message built at run time (admin path).
    func error(_ status: Int, message: String, _ response: ResponseWriter) {
        error(status, response) { $0.value(string: message) }
    }

    private func error(
        _ status: Int, _ response: ResponseWriter, extraHeaders: StaticString = "", allow: String? = nil, _ message: (inout JSONWriter) -> Void
    ) {
        response.writeJSON(status: status, extraHeaders: extraHeaders, header: allow.map { ("Allow", $0) }) { json in
            json.object { root in
                root.key("meta")
                root.object { meta in
                    meta.field("code", status)
                    meta.key("error_message")
                    message(&meta)
                }
            }
        }
    }

    func write(_ rejection: VoteRejection, _ response: ResponseWriter) {
        switch rejection {
        // A private poll without its token is not there for the caller.
        case .unknownPoll, .notOpenYet, .tokenRequired, .tokenInvalid: notFound(response)
        case .closed, .expired: error(400, "Poll is closed.", response)
        case .optionOutOfRange: error(400, "Invalid position: positions are numbered from 1 to the number of options.", response)
        case .duplicateOption: error(400, "A position is given twice.", response)
        case .tooManyOptions: error(400, "More positions than the poll's max_options.", response)
        case .emptyBallot, .alreadyVoted: error(400, "Responses to this poll cannot change.", response)
        case .ledgerFull: error(503, "This poll cannot take more respondents right now.", response, extraHeaders: "Retry-After: 1\r\n")
        }
    }

    func write(_ credential: VoterCheck, _ response: ResponseWriter) {
        switch credential {
        case .missing: error(401, "Call requires authentication.", response)
        case .expired: error(401, "The access token has expired.", response)
        case .invalid, .voter: error(401, "Invalid access token.", response)
        }
    }

    func writeUnavailable(_ response: ResponseWriter) {
        error(503, "Responses cannot be stored right now; try again.", response, extraHeaders: "Retry-After: 1\r\n")
    }

    func write(_ error: AdminError, _ response: ResponseWriter) {
        switch error {
        case .invalidField(let message), .invalidPoll(let message): self.error(400, message: message, response)
        case .unknownPoll: notFound(response)
        case .invalidTransition: self.error(400, "The poll cannot do that in its current state.", response)
        case .changedMeanwhile, .preconditionFailed: self.error(409, "The poll changed meanwhile; read it again.", response)
        case .credentialsRequired: write(VoterCheck.missing, response)
        case .forbidden: self.error(403, "You may not do that to this poll.", response)
        }
    }

    func write(_ error: HTTPError, _ response: ResponseWriter) {
        switch error {
        case .notFound: notFound(response)
        case .methodNotAllowed(let allow): self.error(405, response, allow: allow) { $0.value("Method not allowed.") }
        case .malformedRequest: self.error(400, "Bad request.", response)
        case .requestTimeout: self.error(408, "Request timeout.", response)
        case .bodyTooLarge: self.error(413, "Request entity too large.", response)
        case .headersTooLarge: self.error(431, "Request header fields too large.", response)
        case .noResponse: self.error(500, "Internal server error.", response)
        case .methodNotImplemented: self.error(501, "Not implemented.", response)
        case .tooManyConnections: self.error(503, "Service unavailable.", response, extraHeaders: "Retry-After: 1\r\n")
        }
    }

    func notFound(_ response: ResponseWriter) { error(404, "Not found.", response) }
}
