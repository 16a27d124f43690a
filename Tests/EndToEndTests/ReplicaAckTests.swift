import Foundation
import TallyTestSupport
import Testing

/// `[redis] replicas_to_ack`: a vote is answered 200 only once that many replicas have it (`WAIT`),
/// so a failover to a replica keeps every acknowledged vote. Shown against a real master and
/// replica; the replica is paused (SIGSTOP) to play one that falls behind, and the master killed
/// and the replica promoted to play a failover.
@Suite(.serialized) struct ReplicaAckTests {
    private func config(_ master: RedisServer, replicas: Int) -> String {
        NativeFixture.config.replacingOccurrences(of: "loops = 2", with: "loops = 1")
            + "\n[redis]\naddress = \"127.0.0.1:\(master.port)\"\ntimeout_ms = 2000\nreplicas_to_ack = \(replicas)\n"
    }

    /// A master and a replica of it that has caught up (the master starts the replica's first
    /// sync at once instead of waiting 5 s for more replicas).
    private func pair() throws -> (master: RedisServer, replica: RedisServer) {
        let master = try RedisServer(settings: ["--repl-diskless-sync-delay", "0"])
        let replica = try RedisServer(settings: ["--replicaof", "127.0.0.1", "\(master.port)"])
        // Until the replica acknowledges writes (a busy machine may take seconds to sync it).
        let deadline = Date().addingTimeInterval(30)
        while try master.cli(["WAIT", "1", "1000"]) != "1" {
            guard Date() < deadline else { throw DaemonError(message: "the replica did not catch up") }
        }
        return (master, replica)
    }

    private func ballot(_ redis: RedisServer, _ poll: String, _ voter: String) throws -> String {
        try redis.cli(["HGET", "{p:\(poll)}:ballots", voter])
    }

    @Test func aVoteIsAnsweredOnlyOnceAReplicaHasIt() throws {
        let (master, replica) = try pair()
        let f = try NativeFixture(config: config(master, replicas: 1), redis: master)
        let poll = try f.create()
        #expect(f.vote(poll, "ann", #"{"choices":[0]}"#).status == 200)
        #expect(try ballot(replica, poll, "ann") != "", "the replica had it before the answer")

        replica.pause()
        let unconfirmed = f.vote(poll, "bob", #"{"choices":[1]}"#)
        #expect(unconfirmed.status == 503, "\(unconfirmed)")
        #expect(try ballot(master, poll, "bob") != "", "stored on the master, but not acknowledged")
        let metrics = f.client.request("GET", "/metrics")!.text
        let shortfalls = metrics.split(separator: "\n").first { $0.hasPrefix("tally_redis_replica_shortfalls_total ") }
        #expect((shortfalls?.split(separator: " ").last).flatMap { Int($0) } ?? 0 >= 1, "\(shortfalls ?? "no metric")")
        replica.resume()
        // Sending it again is safe: the same ballot, answered once the replica confirms.
        let again = f.vote(poll, "bob", #"{"choices":[1]}"#)
        #expect(again.status == 200 && again.json?["changed"] as? Bool == false, "\(again)")
        #expect(f.vote(poll, "cat", #"{"choices":[2]}"#).status == 200)
        #expect(NativeFixture.votes(f.results(poll)) == [1, 1, 1, 0])
    }

    /// A failover after the replica fell behind (cut off from its master, as by a network split):
    /// with 0, votes answered 200 are gone; with 1, the same votes were answered 503, and every
    /// 200 survives.
    @Test(arguments: [0, 1]) func aFailoverKeepsEveryAcknowledgedVoteOnlyWithReplicasToAck(replicas: Int) throws {
        let (master, replica) = try pair()
        let f = try NativeFixture(config: config(master, replicas: replicas), redis: master)
        let poll = try f.create()
        var acknowledged: [String] = []
        for voter in ["ann", "bob"] where f.vote(poll, voter, #"{"choices":[0]}"#).status == 200 { acknowledged.append(voter) }
        // The replica has them (with 0 nothing waited for it; a busy machine may lag) before it is cut off.
        _ = try master.cli(["WAIT", "1", "5000"])
        _ = try replica.cli(["REPLICAOF", "127.0.0.1", "1"])  // nothing listens there
        for voter in ["cat", "dan"] where f.vote(poll, voter, #"{"choices":[1]}"#).status == 200 { acknowledged.append(voter) }
        master.kill()
        _ = try replica.cli(["REPLICAOF", "NO", "ONE"])
        let kept = try acknowledged.filter { try ballot(replica, poll, $0) != "" }
        if replicas == 0 {
            #expect(acknowledged == ["ann", "bob", "cat", "dan"] && kept == ["ann", "bob"], "0: answered 200, lost in the failover")
        } else {
            #expect(acknowledged == ["ann", "bob"] && kept == acknowledged, "1: what the replica lacked was answered 503")
        }
    }
}
