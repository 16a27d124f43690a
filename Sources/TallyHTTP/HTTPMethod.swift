/// The request methods Tally routes (http_parser's numbering).
public enum HTTPMethod: UInt32, Sendable {
    case delete = 0, get = 1, head = 2, post = 3, put = 4, options = 6, patch = 28
    case other = 0xFFFF
}

extension HTTPMethod {
    var name: String {
        switch self {
        case .delete: "DELETE"
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .options: "OPTIONS"
        case .patch: "PATCH"
        case .other: "OTHER"
        }
    }
}
