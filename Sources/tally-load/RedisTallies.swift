import TallyCore
import TallyStore

/// Tallies read from Redis, the system of record (`{p:ID}:poll`, or a sharded poll's shards), for a run through several
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
            // A sharded poll's votes are in its shards (`PollShards`), named by its definition.
            let json = try redis.command(["HGET", KeySchema.definition(poll), "definition"], key: KeySchema.definition(poll)) { $0.string }
            let shards = try json.map { try StoredPoll.definition(json: $0).shards } ?? 1
            var votes = [Int](repeating: 0, count: options)
            for shard in PollShards(poll: poll, count: shards).all {
                let key = KeySchema.key(.poll, shard)
                try redis.command(["HMGET", key] + (0..<options).map(String.init), key: key) { reply in
                    for option in 0..<min(reply.count, options) { votes[option] += Int(reply[option].string ?? "0") ?? 0 }
                }
            }
            return votes
        } catch {
            throw LoadError("\(error)")
        }
    }
}
