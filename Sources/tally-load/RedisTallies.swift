import TallyCore
import TallyStore

/// Tallies read from Redis, the system of record (`{p:ID}:poll`), for a run through several
/// daemons: one Redis, or a Redis Cluster through any of its nodes (each poll read on its master).
struct RedisTallies {
    let host: String
    let port: Int

    init?(address: String) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return nil }
        host = String(address[..<colon])
        self.port = port
    }

    func votes(poll id: String, options: Int) throws -> [Int] {
        guard let poll = PollID(id) else { throw LoadError("poll id \(id) is not a number") }
        let redis: BlockingCluster
        // On a cluster node, each poll's `MOVED` leads to its master.
        do { redis = try BlockingCluster(.single(host: host, port: port)) } catch { throw LoadError("\(error)") }
        do {
            return try redis.command(["HMGET", KeySchema.poll(poll)] + (0..<options).map(String.init), key: KeySchema.poll(poll)) { reply in
                (0..<reply.count).map { Int(reply[$0].string ?? "0") ?? 0 }
            }
        } catch {
            throw LoadError("\(error)")
        }
    }
}
