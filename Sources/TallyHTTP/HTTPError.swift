/// What goes wrong before, or instead of, a route's handler. Each route group answers these in its
/// own dialect's shape (`Router.group`); a router's default answers the rest.
public enum HTTPError: Sendable, Equatable {
    /// 400: not HTTP/1.1.
    case malformedRequest
    /// 404: no route has this path.
    case notFound
    /// 405: a route has this path, not for this method; `allow` is for the `Allow` header.
    case methodNotAllowed(allow: String)
    /// 408: the request arrived too slowly.
    case requestTimeout
    /// 413.
    case bodyTooLarge
    /// 431.
    case headersTooLarge
    /// 500: the handler wrote nothing.
    case noResponse
    /// 501: a well-formed request line with an unknown method.
    case methodNotImplemented
    /// 503: the server is at its connection limit (answered before any request is read, so always
    /// in the default shape).
    case tooManyConnections

    public var status: Int {
        switch self {
        case .malformedRequest: 400
        case .notFound: 404
        case .methodNotAllowed: 405
        case .requestTimeout: 408
        case .bodyTooLarge: 413
        case .headersTooLarge: 431
        case .noResponse: 500
        case .methodNotImplemented: 501
        case .tooManyConnections: 503
        }
    }
}

/// Writes the answer to an `HTTPError`.
public typealias ErrorResponder = (HTTPError, ResponseWriter) -> Void

extension HTTPError {
    /// Tally's own shape, `{"error": message, "code": code}`: the router's default.
    public static func writeNative(_ error: HTTPError, _ response: ResponseWriter) {
        switch error {
        case .malformedRequest: response.writeError(status: 400, code: "malformed_request", message: "the request is not valid HTTP/1.1")
        case .notFound: response.writeError(status: 404, code: "not_found", message: "no such resource")
        case .methodNotAllowed(let allow):
            response.writeJSON(status: 405, header: ("Allow", allow)) { json in
                json.object { body in
                    body.field("error", "this path does not take that method")
                    body.field("code", "method_not_allowed")
                }
            }
        case .requestTimeout: response.writeError(status: 408, code: "request_timeout", message: "the request took too long to arrive")
        case .bodyTooLarge: response.writeError(status: 413, code: "body_too_large", message: "the request body is too large")
        case .headersTooLarge: response.writeError(status: 431, code: "headers_too_large", message: "the request headers are too large")
        case .noResponse: response.writeError(status: 500, code: "no_response", message: "the handler wrote no response")
        case .methodNotImplemented:
            response.writeError(status: 501, code: "method_not_implemented", message: "the server does not know this method")
        case .tooManyConnections:
            response.writeError(
                status: 503, code: "too_many_connections", message: "the server has too many connections open",
                extraHeaders: "Retry-After: 1\r\n")
        }
    }
}
