import TallyCore
import TallyHTTP

/// The content-polls API's answers. The document gives statuses and their reasons, not bodies:
/// Tally writes `{"error": reason}` in the document's words (`Bad request. …`, `Not permitted. …`,
/// `Not found. …`), JSON like every other answer of the API.
struct ContentPollsStyle: AnswerStyle {
    func write(_ rejection: VoteRejection, _ response: ResponseWriter) {
        switch rejection {
        case .unknownPoll, .notOpenYet, .tokenRequired, .tokenInvalid: notFound(response)
        case .ledgerFull: error(503, "Service unavailable. This poll cannot take more voters right now", response, extraHeaders: "Retry-After: 1\r\n")
        case .closed, .expired, .optionOutOfRange, .duplicateOption, .tooManyOptions, .emptyBallot, .alreadyVoted:
            error(400, "Bad request. The vote does not fit the poll's settings", response)
        }
    }

    /// A voter credential given for `expand=results` that is not valid.
    func write(_ credential: VoterCheck, _ response: ResponseWriter) {
        error(403, "Not permitted. The voter token in the Authorization header is not valid", response)
    }

    func writeUnavailable(_ response: ResponseWriter) {
        error(503, "Service unavailable. Polls cannot be stored right now; try again", response, extraHeaders: "Retry-After: 1\r\n")
    }

    func write(_ error: AdminError, _ response: ResponseWriter) {
        switch error {
        case .invalidField(let message), .invalidPoll(let message):
            response.writeJSON(status: 400) { json in json.object { $0.field("error", string: message) } }
        case .unknownPoll: notFound(response)
        case .invalidTransition: self.error(400, "Bad request. The poll cannot do that now", response)
        case .changedMeanwhile, .preconditionFailed: self.error(409, "Conflict. The poll changed meanwhile; read it again", response)
        case .credentialsRequired, .forbidden: forbidden(response)
        }
    }

    func write(_ error: HTTPError, _ response: ResponseWriter) {
        switch error {
        case .notFound: self.error(404, "Not found. The REST endpoint has no such path", response)
        case .methodNotAllowed(let allow):
            response.writeJSON(status: 405, header: ("Allow", allow)) { json in json.object { $0.field("error", "Method not allowed. Use GET, POST, PUT or DELETE") } }
        case .malformedRequest: self.error(400, "Bad request. The request is not valid HTTP/1.1", response)
        case .requestTimeout: self.error(408, "Request timeout", response)
        case .bodyTooLarge: self.error(413, "Request entity too large", response)
        case .headersTooLarge: self.error(431, "Request header fields too large", response)
        case .noResponse: self.error(500, "Internal server error", response)
        case .methodNotImplemented: self.error(501, "Not implemented", response)
        case .tooManyConnections: self.error(503, "Service unavailable", response, extraHeaders: "Retry-After: 1\r\n")
        }
    }

    func forbidden(_ response: ResponseWriter) { error(403, "Not permitted. 'token' is not provided or not valid", response) }

    func notFound(_ response: ResponseWriter) { error(404, "Not found. No poll with this 'pollId' in this content", response) }

    private func error(_ status: Int, _ message: StaticString, _ response: ResponseWriter, extraHeaders: StaticString = "") {
        response.writeJSON(status: status, extraHeaders: extraHeaders) { json in json.object { $0.field("error", message) } }
    }
}
