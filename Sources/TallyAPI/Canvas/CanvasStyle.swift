import TallyCore
import TallyHTTP

/// Canvas' answers: errors as its API writes them (`{"errors":[{"message":…}]}`; validation
/// errors as `{"errors":{attribute:[{attribute, type, message}]}}`, the active_model-better_errors
/// format Canvas renders model errors in), 401 with `WWW-Authenticate` for a bad token (which
/// canvasapi reads as `InvalidAccessToken`), none for a missing one (`Unauthorized`).
struct CanvasStyle: AnswerStyle {
    /// Canvas' validation error on one attribute (400).
    func invalid(_ attribute: StaticString, _ message: StaticString, _ response: ResponseWriter) {
        invalid(attribute, response) { $0.value(message) }
    }

    /// The same for a message built at run time (admin path).
    func invalid(_ attribute: StaticString, message: String, _ response: ResponseWriter) {
        invalid(attribute, response) { $0.value(string: message) }
    }

    private func invalid(_ attribute: StaticString, _ response: ResponseWriter, _ message: (inout JSONWriter) -> Void) {
        response.writeJSON(status: 400) { json in
            json.object { root in
                root.key("errors")
                root.object { errors in
                    errors.key(attribute)
                    errors.array { list in
                        list.object { error in
                            error.field("attribute", attribute)
                            error.key("type")
                            message(&error)
                            error.key("message")
                            message(&error)
                        }
                    }
                }
            }
        }
    }

    func message(_ status: Int, _ text: StaticString, _ response: ResponseWriter, status statusWord: StaticString? = nil, extraHeaders: StaticString = "") {
        response.writeJSON(status: status, extraHeaders: extraHeaders) { json in
            json.object { root in
                if let statusWord { root.field("status", statusWord) }
                root.key("errors")
                root.array { list in list.object { $0.field("message", text) } }
            }
        }
    }

    func notFound(_ response: ResponseWriter) { message(404, "The specified resource does not exist.", response) }

    func forbidden(_ response: ResponseWriter) {
        message(403, "user not authorized to perform that action", response, status: "unauthorized")
    }

    func write(_ rejection: VoteRejection, _ response: ResponseWriter) {
        switch rejection {
        case .unknownPoll, .tokenRequired, .tokenInvalid, .optionOutOfRange: notFound(response)
        // Polling::PollSubmission validations (app/models/polling/poll_submission.rb).
        case .notOpenYet, .closed, .expired: invalid("base", "This poll session is not open for submissions.", response)
        case .alreadyVoted, .duplicateOption, .tooManyOptions, .emptyBallot:
            invalid("user_id", "can only submit one choice per poll session.", response)
        case .ledgerFull: message(503, "This poll session cannot take more submissions right now.", response, extraHeaders: "Retry-After: 1\r\n")
        }
    }

    func write(_ credential: VoterCheck, _ response: ResponseWriter) {
        switch credential {
        case .missing: message(401, "user authorization required", response, status: "unauthenticated")
        case .invalid, .expired, .voter:
            message(401, "Invalid access token.", response, extraHeaders: "WWW-Authenticate: Bearer realm=\"canvas-lms\"\r\n")
        }
    }

    func writeUnavailable(_ response: ResponseWriter) {
        message(503, "Submissions cannot be stored right now; try again.", response, extraHeaders: "Retry-After: 1\r\n")
    }

    func write(_ error: AdminError, _ response: ResponseWriter) {
        switch error {
        case .invalidField(let text), .invalidPoll(let text): invalid("base", message: text, response)
        case .unknownPoll: notFound(response)
        case .invalidTransition: invalid("base", "The poll session cannot do that now.", response)
        case .changedMeanwhile, .preconditionFailed: invalid("base", "The poll session changed meanwhile; read it again.", response)
        case .credentialsRequired: write(VoterCheck.missing, response)
        case .forbidden: forbidden(response)
        }
    }

    func write(_ error: HTTPError, _ response: ResponseWriter) {
        switch error {
        case .notFound, .methodNotAllowed: notFound(response)  // Rails: no route matches
        case .malformedRequest: message(400, "Bad request.", response)
        case .requestTimeout: message(408, "Request timeout.", response)
        case .bodyTooLarge: message(413, "Request entity too large.", response)
        case .headersTooLarge: message(431, "Request header fields too large.", response)
        case .noResponse: message(500, "Internal server error.", response)
        case .methodNotImplemented: message(501, "Not implemented.", response)
        case .tooManyConnections: message(503, "Service unavailable.", response, extraHeaders: "Retry-After: 1\r\n")
        }
    }
}
