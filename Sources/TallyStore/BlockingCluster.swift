/// A blocking client for a Redis Cluster, for work off the event loops (recovery, the close
/// worker, the results follower): one `BlockingRedis` per master, each command sent to the master
/// of its key's slot (`ClusterSlot`), a `MOVED` followed (the map updated, the command resent:
/// the node that answered it ran nothing) and an `ASK` followed for that one command (`ASKING`,
/// then the command, on the node the slot is moving to).
public final class BlockingCluster {
    private let seeds: [(host: String, port: Int)]
    private(set) public var map = SlotMap()
    private var connections: [String: BlockingRedis] = [:]
    /// Redirections followed so far: `MOVED`, `ASK` (for /metrics and tests).
    public private(set) var redirections = (moved: 0, asked: 0)
    /// A node could not be reached: the map is read again before the next command (a failover
    /// promoted a replica, or the cluster changed otherwise).
    private var stale = false

    /// Reads the slot map from the first seed that answers.
    public init(seeds: [(host: String, port: Int)]) throws(StoreError) {
        precondition(!seeds.isEmpty)
        self.seeds = seeds
        try refresh()
    }

    /// Reads the slot map again (`CLUSTER SLOTS`), from a node it knows or a seed.
    public func refresh() throws(StoreError) {
        var problem = StoreError("no seed node")
        for address in map.masters + seeds.map({ "\($0.host):\($0.port)" }) {
            do throws(StoreError) {
                if let fresh = try connection(address).command(["CLUSTER", "SLOTS"], { SlotMap(clusterSlots: $0) }), fresh.coversEverySlot {
                    map = fresh
                    return
                }
                problem = StoreError("\(address): the cluster does not serve every slot")
            } catch {
                connections[address] = nil
                problem = error
            }
        }
        throw problem
    }

    private func refreshIfStale() throws(StoreError) {
        guard stale else { return }
        try refresh()
        stale = false
    }

    /// Runs a command on the master of `key`'s slot and returns its reply, converted by `read`. A
    /// node that cannot be reached throws (the command may or may not have run, as with one
    /// Redis); the next command reads the map again first.
    public func command<T>(_ arguments: [String], key: String, _ read: (RedisReply) throws(StoreError) -> T) throws(StoreError) -> T {
        try refreshIfStale()
        let slot = ClusterSlot.of(key)
        var asking: String?
        for _ in 0..<BlockingCluster.maxRedirections {
            guard let address = asking ?? map.master(ofSlot: slot) else {
                try refresh()
                continue
            }
            let answer: Answer<T>
            do throws(StoreError) {
                let redis = try connection(address)
                if asking != nil { try redis.command(["ASKING"]) { _ in } }
                try redis.send(arguments)
                answer = try redis.receive(acceptingErrors: true) { reply throws(StoreError) -> Answer<T> in
                    if let redirection = Redirection(reply) { return .redirected(redirection) }
                    if reply.isError { return .failed(StoreError("Redis: \(reply.string ?? "error")")) }
                    return .reply(try read(reply))
                }
            } catch {
                connections[address] = nil
                stale = true
                throw error
            }
            switch answer {
            case .reply(let value):
                return value
            case .failed(let error):
                throw error
            case .redirected(.moved(let movedSlot, let target)):
                redirections.moved += 1
                map.move(slot: movedSlot, to: target)
                asking = nil
            case .redirected(.ask(_, let target)):
                redirections.asked += 1
                asking = target
            }
        }
        throw StoreError("Redis Cluster: key '\(key)' still redirected after \(BlockingCluster.maxRedirections) tries")
    }

    /// Runs many commands, each on the master of its key's slot: pipelined per node (one round trip
    /// per node, not per command), the nodes one after another. `read` gets each reply with the
    /// command's index, in no particular order across nodes; a command redirected is sent again
    /// alone (`command`), after the rest.
    public func pipeline(_ commands: [(arguments: [String], key: String)], _ read: (Int, RedisReply) throws(StoreError) -> Void) throws(StoreError) {
        try refreshIfStale()
        var byNode: [String: [Int]] = [:]
        for (index, command) in commands.enumerated() {
            guard let address = map.master(ofSlot: ClusterSlot.of(command.key)) else { throw StoreError("Redis Cluster: no master for '\(command.key)'") }
            byNode[address, default: []].append(index)
        }
        var redirected: [Int] = []
        for (address, indices) in byNode {
            do throws(StoreError) {
                let redis = try connection(address)
                for index in indices { try redis.send(commands[index].arguments) }
                for index in indices {
                    let moved = try redis.receive(acceptingErrors: true) { reply throws(StoreError) -> Bool in
                        if Redirection(reply) != nil { return true }
                        if reply.isError { throw StoreError("Redis: \(reply.string ?? "error")") }
                        try read(index, reply)
                        return false
                    }
                    if moved { redirected.append(index) }
                }
            } catch {
                connections[address] = nil
                stale = true
                throw error
            }
        }
        for index in redirected {
            try command(commands[index].arguments, key: commands[index].key) { reply throws(StoreError) in try read(index, reply) }
        }
    }

    static let maxRedirections = 5

    private enum Answer<T> {
        case reply(T)
        case failed(StoreError)
        case redirected(Redirection)
    }

    private func connection(_ address: String) throws(StoreError) -> BlockingRedis {
        if let known = connections[address] { return known }
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw StoreError("Redis Cluster: bad node address '\(address)'")
        }
        let redis = try BlockingRedis(host: String(address[..<colon]), port: port)
        connections[address] = redis
        return redis
    }
}
