/// A response that is written later, on the same loop (a vote waits for Redis). The connection
/// takes no further request until it is completed, so pipelined responses stay in order, and the
/// connection object stays alive until then even if the client goes away.
///
/// Complete it exactly once, on the loop's thread.
public struct DeferredResponse {
    private let connection: Unmanaged<Connection>
    private let isHead: Bool

    init(connection: Connection, isHead: Bool) {
        self.connection = Unmanaged.passRetained(connection)
        self.isHead = isHead
    }

    /// Writes the response with `body` (nothing is sent if the client has gone) and sends it.
    public func complete(_ body: (ResponseWriter) -> Void) {
        connection.takeRetainedValue().completeDeferred(isHead: isHead, body)
    }

    /// Handles the request again from the start instead of answering it now, as if it had just
    /// arrived (a handler that had to load something first). Counts as completing this response.
    public func handleAgain() {
        connection.takeRetainedValue().redispatchDeferred()
    }

    /// The response as a pointer (it keeps the connection retained), to be carried where a value
    /// of this module's types cannot go; `init(resuming:isHead:)` takes it back. No allocation.
    public var retainedPointer: UnsafeMutableRawPointer { connection.toOpaque() }
    public var isHeadRequest: Bool { isHead }

    /// The response `retainedPointer` came from.
    public init(resuming pointer: UnsafeMutableRawPointer, isHead: Bool) {
        connection = Unmanaged.fromOpaque(pointer)
        self.isHead = isHead
    }
}
