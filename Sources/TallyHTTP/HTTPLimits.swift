/// The limits every connection is held to, and what breaking them answers.
public struct HTTPLimits: Sendable, Equatable {
    /// Request line plus headers, in bytes: larger answers 431.
    public var maxHeaderBytes = 8 * 1024
    /// At most this many header fields: more answers 431.
    public var maxHeaderCount = 64
    /// Request body, in bytes: larger answers 413.
    public var maxBodyBytes = 64 * 1024
    /// From a request's first byte to the end of its headers: slower answers 408 and closes.
    public var headerTimeoutMilliseconds = 10_000
    /// From the end of the headers to the end of the body: slower answers 408 and closes.
    public var bodyTimeoutMilliseconds = 10_000
    /// A keep-alive connection with no request in progress is closed after this long.
    public var idleTimeoutMilliseconds = 60_000
    /// Open connections, all loops together: more are answered 503 and closed at once.
    public var maxConnections = 10_000
    /// On shutdown, requests in flight get this long to finish.
    public var drainTimeoutMilliseconds = 5_000

    public init() {}
}
