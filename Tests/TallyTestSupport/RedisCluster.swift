import Foundation

/// A real Redis Cluster for tests: `masters` masters with `replicasPerMaster` replicas each, every
/// node a `RedisServer` running the shipped `deploy/redis-cluster.conf` on free loopback ports,
/// joined by `redis-cli --cluster create` as an operator would. Killed when released.
public final class RedisCluster: @unchecked Sendable {
    public let nodes: [RedisServer]

    /// - Parameter nodeTimeoutMilliseconds: how long a master may be unreachable before its replica
    ///   takes over (small, so failover tests are quick).
    public init(masters: Int = 3, replicasPerMaster: Int = 1, nodeTimeoutMilliseconds: Int = 1_000) throws {
        nodes = try (0..<masters * (1 + replicasPerMaster)).map { _ in
            try RedisServer(config: RedisServer.deployFile("redis-cluster.conf"), settings: [
                "--cluster-port", "\(try RedisServer.freePort())", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "\(nodeTimeoutMilliseconds)", "--repl-diskless-sync-delay", "0",
            ])
        }
        let created = try runToCompletion(
            URL(fileURLWithPath: "/usr/bin/redis-cli"),
            ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" } + ["--cluster-replicas", "\(replicasPerMaster)", "--cluster-yes"])
        guard created.status == 0 else { throw DaemonError(message: "redis-cli --cluster create failed: \(created.output)") }
        try waitUntilHealthy()
    }

    /// "127.0.0.1:PORT" of every node, as `[redis] cluster` lists seeds.
    public var seeds: [String] { nodes.map { "127.0.0.1:\($0.port)" } }

    /// Waits (up to 20 s) until every running node says the cluster is ok and agrees on its masters.
    public func waitUntilHealthy() throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let states = nodes.filter(\.isRunning).map { (try? $0.cli(["CLUSTER", "INFO"])) ?? "" }
            if states.allSatisfy({ $0.contains("cluster_state:ok") }) { return }
            usleep(100_000)
        }
        throw DaemonError(message: "the cluster did not become healthy")
    }

    /// Waits (up to 20 s) until a running node is master of `slot` (after its master was killed,
    /// once its replica took over) and the cluster is ok.
    public func waitForMaster(ofSlot slot: Int) throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if (try? master(ofSlot: slot))?.isRunning == true { return try waitUntilHealthy() }
            usleep(100_000)
        }
        throw DaemonError(message: "no running master took slot \(slot) over")
    }

    /// The node that is master for `slot` now, as most running nodes' `CLUSTER NODES` say (a node
    /// just restarted may still see itself as master for a while).
    public func master(ofSlot slot: Int) throws -> RedisServer {
        var votes: [Int: Int] = [:]
        for asked in nodes where asked.isRunning {
            guard let table = try? asked.cli(["CLUSTER", "NODES"]) else { continue }
            lines: for line in table.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count > 8, fields[2].contains("master"), !fields[2].contains("fail") else { continue }
                for range in fields[8...] where !range.hasPrefix("[") {
                    let bounds = range.split(separator: "-").compactMap { Int($0) }
                    if let low = bounds.first, (low...(bounds.last ?? low)).contains(slot),
                        let port = Int(fields[1].split(separator: "@")[0].split(separator: ":")[1])
                    {
                        votes[port, default: 0] += 1
                        break lines
                    }
                }
            }
        }
        guard let port = votes.max(by: { $0.value < $1.value })?.key, let node = nodes.first(where: { $0.port == port }) else {
            throw DaemonError(message: "no master for slot \(slot)")
        }
        return node
    }

    /// Moves `slots` slots from `source` to `target` with `redis-cli --cluster reshard`, as an
    /// operator would (it takes the source's lowest slots first).
    public func reshard(slots: Int, from source: RedisServer, to target: RedisServer) throws {
        let moved = try runToCompletion(
            URL(fileURLWithPath: "/usr/bin/redis-cli"),
            ["--cluster", "reshard", "127.0.0.1:\(source.port)", "--cluster-from", try source.cli(["CLUSTER", "MYID"]),
             "--cluster-to", try target.cli(["CLUSTER", "MYID"]), "--cluster-slots", "\(slots)", "--cluster-yes"])
        guard moved.status == 0 else { throw DaemonError(message: "redis-cli --cluster reshard failed: \(moved.output)") }
    }

    /// The running masters.
    public func masters() -> [RedisServer] {
        nodes.filter { $0.isRunning && (try? $0.cli(["ROLE"]).hasPrefix("master")) == true }
    }

    /// `redis-cli -c` (following redirections) against the first running node.
    @discardableResult
    public func cli(_ arguments: [String]) throws -> String {
        let node = nodes.first(where: \.isRunning)!
        return try runToCompletion(URL(fileURLWithPath: "/usr/bin/redis-cli"), ["-c", "-p", "\(node.port)"] + arguments)
            .output.trimmingCharacters(in: .newlines)
    }
}
