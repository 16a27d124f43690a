/// Where the daemon's Redis is: one Redis, or a Redis Cluster given by some of its nodes.
public enum RedisEndpoint: Sendable, CustomStringConvertible {
    case single(host: String, port: Int)
    /// Seed nodes, "host:port": the slot map is read from the first that answers.
    case cluster(seeds: [String])

    public var description: String {
        switch self {
        case .single(let host, let port): "\(host):\(port)"
        case .cluster(let seeds): "the Redis Cluster at \(seeds.joined(separator: ", "))"
        }
    }
}

/// A blocking client for work off the event loops (recovery, the close worker, the results
/// follower), the same for one Redis and for a Redis Cluster. On a cluster: one `BlockingRedis` per
/// master, each command sent to the master of its key's slot (`ClusterSlot`), a `MOVED` followed
/// (the map updated, the command resent: the node that answered it ran nothing) and an `ASK`
/// followed for that one command (`ASKING`, then the command, on the node the slot is moving to).
/// With one Redis, every slot is that Redis'; given one node of a cluster that way, it still
/// reaches the others by following their `MOVED` (`tally-load --check-redis`).
public final class BlockingCluster {
    public let endpoint: RedisEndpoint
    private let readTimeoutMilliseconds: Int?
    public private(set) var map = SlotMap()
    private var connections: [String: BlockingRedis] = [:]
    /// Redirections followed so far: `MOVED`, `ASK` (for /metrics and tests).
    public private(set) var redirections = (moved: 0, asked: 0)
    /// A node could not be reached: the map is read again before the next command (a failover
    /// promoted a replica, or the cluster changed otherwise).
    private var stale = false

    /// Connects to one Redis, or reads the slot map from the first seed that answers.
    public init(_ endpoint: RedisEndpoint, readTimeoutMilliseconds: Int? = nil) throws(StoreError) {
        self.endpoint = endpoint
        self.readTimeoutMilliseconds = readTimeoutMilliseconds
        switch endpoint {
        case .single(let host, let port):
            map = SlotMap(everySlotAt: "\(host):\(port)")
            _ = try connection("\(host):\(port)")
        case .cluster(let seeds):
            precondition(!seeds.isEmpty)
            try refresh()
        }
    }

    public var isCluster: Bool {
        if case .cluster = endpoint { return true }
        return false
    }

    /// With one Redis, its connection (for work that streams commands on it); nil on a cluster.
    public func single() throws(StoreError) -> BlockingRedis? {
        guard case .single(let host, let port) = endpoint else { return nil }
        return try connection("\(host):\(port)")
    }

    /// Reads the slot map again (`CLUSTER SLOTS`), from a node it knows or a seed.
    public func refresh() throws(StoreError) {
        guard case .cluster(let seeds) = endpoint else { return }
        var problem = StoreError("no seed node")
        for address in map.masters + seeds {
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

    /// A connection of its own to a master (the first that answers), for a subscription: a cluster
    /// forwards every message published to every node.
    public func subscriber() throws(StoreError) -> BlockingRedis {
        var problem = StoreError("no master known")
        for address in map.masters {
            let (host, port) = StoreNode.split(address)
            do throws(StoreError) { return try BlockingRedis(host: host, port: port) } catch { problem = error }
        }
        stale = true
        throw problem
    }

    /// Runs a command without a key (`SCRIPT LOAD`) on every master.
    public func onEveryMaster(_ arguments: [String]) throws(StoreError) {
        try refreshIfStale()
        for address in map.masters {
            do throws(StoreError) { try connection(address).command(arguments) { _ in } } catch {
                connections[address] = nil
                stale = true
                throw error
            }
        }
    }

    /// Runs a command on the master of `key`'s slot and returns its reply, converted by `read`. A
    /// node that cannot be reached throws (the command may or may not have run, as with one
    /// Redis); the next command reads the map again first.
    public func command<T>(_ arguments: [String], key: String, _ read: (RedisReply) throws(StoreError) -> T) throws(StoreError) -> T {
        try command(key: key, { $0.command(arguments) }, read)
    }

    /// The same, with the command formatted by `format`.
    public func command<T>(
        key: String, _ format: (RESPWriter) -> Void, _ read: (RedisReply) throws(StoreError) -> T
    ) throws(StoreError) -> T {
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
                try redis.send(format)
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
    /// command's index, in order within a node; a command redirected is sent again alone
    /// (`command`), after the rest.
    public func pipeline(_ commands: [(arguments: [String], key: String)], _ read: (Int, RedisReply) throws(StoreError) -> Void) throws(StoreError) {
        try pipeline(commands.map { command in (command.key, { $0.command(command.arguments) }) }, read)
    }

    /// The same, with each command formatted by its closure.
    public func pipeline(
        _ commands: [(key: String, format: (RESPWriter) -> Void)], _ read: (Int, RedisReply) throws(StoreError) -> Void
    ) throws(StoreError) {
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
                for index in indices { try redis.send(commands[index].format) }
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
            try command(key: commands[index].key, commands[index].format) { reply throws(StoreError) in try read(index, reply) }
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
        let (host, port) = StoreNode.split(address)
        let redis = try BlockingRedis(host: host, port: port, readTimeoutMilliseconds: readTimeoutMilliseconds)
        connections[address] = redis
        return redis
    }
}
