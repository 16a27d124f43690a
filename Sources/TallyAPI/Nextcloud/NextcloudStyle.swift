import TallyCore
import TallyHTTP

/// Which OCS endpoint a request came through: `/ocs/v2.php` passes the status on; `/ocs/v1.php`
/// answers HTTP 200 to everything but 401 and says the status in `meta.statuscode` (100 for OK).
/// (nextcloud/server `lib/private/AppFramework/OCS/V1Response.php`, `V2Response.php`.)
enum OCSVersion {
    case v1, v2
}

/// Nextcloud's answers: every body in the OCS envelope
/// `{"ocs":{"meta":{"status","statuscode","message"},"data":…}}`, JSON whatever the client asked
/// for (Tally does not write OCS XML). Talk's poll errors carry `data: []` or `{"error": reason}`
/// (nextcloud/spreed `lib/Controller/PollController.php`).
struct NextcloudStyle: AnswerStyle {
    let version: OCSVersion

    /// One OCS answer: `status` is what the controller returned; the endpoint decides the HTTP
    /// status and `meta` from it.
    func write(status: Int, extraHeaders: StaticString = "", message: StaticString = "", _ response: ResponseWriter, data: (inout JSONWriter) -> Void) {
        // A vote's answer: the envelope as one piece.
        if status == 200 {
            return response.writeJSON(status: 200, extraHeaders: extraHeaders) { json in
                switch version {
                case .v1:
                    json.enclosed(
                        #"{"ocs":{"meta":{"status":"ok","statuscode":100,"message":"OK","totalitems":"","itemsperpage":""},"data":"#, "}}",
                        data)
                case .v2: json.enclosed(#"{"ocs":{"meta":{"status":"ok","statuscode":200,"message":"OK"},"data":"#, "}}", data)
                }
            }
        }
        let ok = status >= 200 && status < 300
        let httpStatus = version == .v2 || status == 401 ? status : 200
        response.writeJSON(status: httpStatus, extraHeaders: extraHeaders) { json in
            json.object { root in
                root.key("ocs")
                root.object { ocs in
                    ocs.key("meta")
                    ocs.object { meta in
                        meta.field("status", ok ? "ok" : "failure")
                        meta.field("statuscode", version == .v1 && status == 200 ? 100 : status)
                        meta.field("message", ok ? "OK" : message)
                        if version == .v1 {
                            meta.field("totalitems", "")
                            meta.field("itemsperpage", "")
                        }
                    }
                    ocs.key("data")
                    data(&ocs)
                }
            }
        }
    }

    /// An answer whose data is PHP's empty array, `[]`.
    func writeEmpty(status: Int, extraHeaders: StaticString = "", message: StaticString = "", _ response: ResponseWriter) {
        write(status: status, extraHeaders: extraHeaders, message: message, response) { $0.array { _ in } }
    }

    /// Talk's `{"error": reason}` (400 on create: `question`, `options`, `draft`, `room`).
    func writeReason(status: Int, _ reason: String, _ response: ResponseWriter) {
        write(status: status, response) { json in json.object { $0.field("error", string: reason) } }
    }

    func write(_ rejection: VoteRejection, _ response: ResponseWriter) {
        switch rejection {
        // A draft is not found by voters; Talk polls have no poll tokens.
        case .unknownPoll, .notOpenYet, .tokenRequired, .tokenInvalid: writeEmpty(status: 404, response)
        // PollService::votePoll throws for a repeated id, too many ids, an id out of range; the
        // controller answers a closed poll 400 too.
        case .closed, .expired, .optionOutOfRange, .duplicateOption, .tooManyOptions, .emptyBallot, .alreadyVoted:
            writeEmpty(status: 400, response)
        case .ledgerFull: writeUnavailable(response)
        }
    }

    /// As `ocs/v2.php` answers credentials it cannot log in with (`OC_API::respond`).
    func write(_ credential: VoterCheck, _ response: ResponseWriter) {
        writeEmpty(status: 401, extraHeaders: "WWW-Authenticate: Basic realm=\"Authorisation Required\"\r\n", message: "Unauthorised", response)
    }

    func writeUnavailable(_ response: ResponseWriter) {
        writeEmpty(status: 503, extraHeaders: "Retry-After: 1\r\n", message: "Votes cannot be stored right now; try again", response)
    }

    func write(_ error: AdminError, _ response: ResponseWriter) {
        switch error {
        case .invalidField(let reason), .invalidPoll(let reason): writeReason(status: 400, reason, response)
        case .unknownPoll: writeEmpty(status: 404, response)
        case .invalidTransition, .changedMeanwhile, .preconditionFailed: writeEmpty(status: 400, response)
        case .credentialsRequired: write(VoterCheck.missing, response)
        case .forbidden: writeEmpty(status: 403, response)
        }
    }

    /// An unknown OCS route is 404 with the OCS API's own message (`ocs/v2.php`); the rest in the
    /// envelope with the transport's status.
    func write(_ error: HTTPError, _ response: ResponseWriter) {
        switch error {
        case .notFound:
            writeEmpty(
                status: 404,
                message: "Invalid query, please check the syntax. API specifications are here: http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.",
                response)
        case .methodNotAllowed(let allow):
            response.writeJSON(status: 405, header: ("Allow", allow)) { json in json.object { _ in } }
        case .tooManyConnections: writeEmpty(status: 503, extraHeaders: "Retry-After: 1\r\n", response)
        default: writeEmpty(status: error.status, response)
        }
    }

    /// A request without `OCS-APIRequest` (nor a bearer token) fails Nextcloud's CSRF check, 412,
    /// outside the envelope (`SecurityMiddleware`, `CrossSiteRequestForgeryException`).
    static func csrfFailed(_ response: ResponseWriter) {
        response.writeJSON(status: 412) { json in json.object { $0.field("message", "CSRF check failed") } }
    }
}
