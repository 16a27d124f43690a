import CLibUV

/// One Redis a loop writes to: the one Redis, or one master of a Redis Cluster. Each has its own
/// connection, its own checks (persistence settings, then clock) after every (re)connect, its own
/// clock (a vote call's deadline is in the Redis that runs it), and its own `WAIT` after the vote
/// calls a flush sent it. Loop thread only.
final class StoreNode {
    /// "host:port", as the slot map names it.
    let address: String
    let redis: RedisConnection
    /// Its persistence settings allow votes and its clock is known.
    var verified = false
    var clock = RedisClock()
    /// What its persistence settings promise (`unknown` until read on this connection).
    var durability = RedisDurability.unknown
    /// Script calls sent it whose verdicts wait for the `WAIT` sent after them, by first entry;
    /// and the ones a `WAIT` reply is settling (the two swap, so neither allocates).
    var awaitingReplicas: [Int] = []
    var replicasAnswered: [Int] = []
    /// Script calls sent it this flush (a `WAIT` follows them).
    var sentThisFlush = false
    /// This loop's vote-script calls and `WAIT`s it has not answered yet: while there are any, the
    /// next batch for its polls waits (group commit per Redis).
    var callsInFlight = 0

    init(address: String, loop: UnsafeMutablePointer<uv_loop_t>, timeoutMilliseconds: Int, capacity: Int) {
        self.address = address
        let (host, port) = StoreNode.split(address)
        redis = RedisConnection(host: host, port: port, loop: loop)
        redis.commandTimeoutMilliseconds = UInt64(timeoutMilliseconds)
        awaitingReplicas.reserveCapacity(capacity)
        replicasAnswered.reserveCapacity(capacity)
    }

    /// "host:port" → (host, port); the port after the last colon (an IPv6 host has colons).
    static func split(_ address: String) -> (host: String, port: Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return (address, 6379) }
        return (String(address[..<colon]), port)
    }

    /// Forgets the checks: the connection dropped.
    func lost() {
        verified = false
        durability = .unknown
        clock.forget()
    }
}
