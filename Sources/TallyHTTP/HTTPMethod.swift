/// The request methods Tally routes (http_parser's numbering).
public enum HTTPMethod: UInt32, Sendable {
    case delete = 0, get = 1, head = 2, post = 3, put = 4, options = 6, patch = 28
    case other = 0xFFFF
}
