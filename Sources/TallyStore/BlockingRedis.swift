import CHiredis
import Foundation
import TallyBase

/// A plain, blocking Redis connection for work off the event loops: recovery on start, the
/// poll-change subscription, the close worker. Not for the vote path.
public final class BlockingRedis {
    private let context: UnsafeMutablePointer<redisContext>
    private let commandBuffer = ByteBuffer(capacity: 4 * 1024)

    /// Connects, or throws with Redis' or the system's reason. With `readTimeoutMilliseconds`, a
    /// reply that takes longer is an error (workers that must not hang on a stalled Redis).
    public init(host: String, port: Int, timeoutMilliseconds: Int = 2_000, readTimeoutMilliseconds: Int? = nil) throws(StoreError) {
        let timeout = timeval(tv_sec: timeoutMilliseconds / 1_000, tv_usec: Int(timeoutMilliseconds % 1_000) * 1_000)
        guard let context = redisConnectWithTimeout(host, Int32(port), timeout) else { throw StoreError("cannot allocate a Redis context") }
        guard context.pointee.err == 0 else {
            let reason = BlockingRedis.errorText(context)
            redisFree(context)
            throw StoreError("cannot connect to Redis at \(host):\(port): \(reason)")
        }
        self.context = context
        if let readTimeoutMilliseconds { setReadTimeout(milliseconds: readTimeoutMilliseconds) }
    }

    deinit { redisFree(context) }

    /// How long a read may wait; a subscriber uses it to look at its stop flag now and then.
    public func setReadTimeout(milliseconds: Int) {
        redisSetTimeout(context, timeval(tv_sec: milliseconds / 1_000, tv_usec: Int(milliseconds % 1_000) * 1_000))
    }

    /// Sends a command and returns its reply, converted by `read` while it is valid.
    public func command<T>(_ arguments: [String], _ read: (RedisReply) throws(StoreError) -> T) throws(StoreError) -> T {
        try send(arguments)
        return try receive(read)
    }

    /// Writes a command without waiting for its reply, so that the next one can be prepared while
    /// Redis runs it (pipelining); `receive` gets the replies in order.
    public func send(_ arguments: [String]) throws(StoreError) {
        try send { $0.command(arguments) }
    }

    /// The same, with the command formatted by `format` straight into the connection's buffer.
    public func send(_ format: (RESPWriter) -> Void) throws(StoreError) {
        commandBuffer.removeAll()
        commandBuffer.shrink(to: 64 * 1024)  // after an outsize command
        format(RESPWriter(commandBuffer))
        let command = commandBuffer.bytes
        guard redisAppendFormattedCommand(context, command.baseAddress!.assumingMemoryBound(to: CChar.self), command.count) == REDIS_OK
        else { throw StoreError("Redis: \(BlockingRedis.errorText(context))") }
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(context, &done) == REDIS_OK else { throw StoreError("Redis: \(BlockingRedis.errorText(context))") }
        }
    }

    /// Waits for the reply to the oldest command sent and not yet received; an error reply throws
    /// unless `acceptingErrors`.
    public func receive<T>(acceptingErrors: Bool = false, _ read: (RedisReply) throws(StoreError) -> T) throws(StoreError) -> T {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK else { throw StoreError("Redis: \(BlockingRedis.errorText(context))") }
        return try consume(raw, acceptingErrors: acceptingErrors, read)
    }

    /// Waits for the next reply (a subscription's message); nil after the read timeout.
    func nextReply<T>(_ read: (RedisReply) throws(StoreError) -> T) throws(StoreError) -> T? {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK else {
            if context.pointee.err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK) {
                context.pointee.err = 0  // a read timeout, not a failure
                return nil
            }
            throw StoreError("Redis: \(BlockingRedis.errorText(context))")
        }
        return try consume(raw, read)
    }

    private func consume<T>(
        _ raw: UnsafeMutableRawPointer?, acceptingErrors: Bool = false, _ read: (RedisReply) throws(StoreError) -> T
    ) throws(StoreError) -> T {
        guard let raw else { throw StoreError("Redis: \(BlockingRedis.errorText(context))") }
        defer { freeReplyObject(raw) }
        let reply = RedisReply(UnsafeMutablePointer<redisReply>(OpaquePointer(raw)))
        if reply.isError && !acceptingErrors { throw StoreError("Redis: \(reply.string ?? "error")") }
        return try read(reply)
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// Why the store could not do something (admin path and start-up).
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
