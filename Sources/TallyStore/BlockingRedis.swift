import CHiredis
import Foundation

/// A plain, blocking Redis connection for work off the event loops: recovery on start, the
/// poll-change subscription, the close worker. Not for the vote path.
public final class BlockingRedis {
    private let context: UnsafeMutablePointer<redisContext>

    /// Connects, or throws with Redis' or the system's reason.
    public init(host: String, port: Int, timeoutMilliseconds: Int = 2_000) throws(StoreError) {
        let timeout = timeval(tv_sec: timeoutMilliseconds / 1_000, tv_usec: Int(timeoutMilliseconds % 1_000) * 1_000)
        guard let context = redisConnectWithTimeout(host, Int32(port), timeout) else { throw StoreError("cannot allocate a Redis context") }
        guard context.pointee.err == 0 else {
            let reason = BlockingRedis.errorText(context)
            redisFree(context)
            throw StoreError("cannot connect to Redis at \(host):\(port): \(reason)")
        }
        self.context = context
    }

    deinit { redisFree(context) }

    /// How long a read may wait; a subscriber uses it to look at its stop flag now and then.
    public func setReadTimeout(milliseconds: Int) {
        redisSetTimeout(context, timeval(tv_sec: milliseconds / 1_000, tv_usec: Int(milliseconds % 1_000) * 1_000))
    }

    /// Sends a command and returns its reply, converted by `read` while it is valid.
    public func command<T>(_ arguments: [String], _ read: (RedisReply) throws(StoreError) -> T) throws(StoreError) -> T {
        let cStrings = arguments.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let lengths = arguments.map { $0.utf8.count }  // strdup stops at NUL: ids and JSON have none
        var pointers: [UnsafePointer<CChar>?] = cStrings.map { UnsafePointer($0) }
        let raw = pointers.withUnsafeMutableBufferPointer { pointers in
            lengths.withUnsafeBufferPointer { redisCommandArgv(context, Int32(arguments.count), pointers.baseAddress, $0.baseAddress) }
        }
        return try consume(raw, read)
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

    private func consume<T>(_ raw: UnsafeMutableRawPointer?, _ read: (RedisReply) throws(StoreError) -> T) throws(StoreError) -> T {
        guard let raw else { throw StoreError("Redis: \(BlockingRedis.errorText(context))") }
        defer { freeReplyObject(raw) }
        let reply = RedisReply(UnsafeMutablePointer<redisReply>(OpaquePointer(raw)))
        if reply.isError { throw StoreError("Redis: \(reply.string ?? "error")") }
        return try read(reply)
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// Why the store could not do something (admin path and start-up).
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
