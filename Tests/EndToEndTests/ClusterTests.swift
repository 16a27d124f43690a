import Foundation
import Synchronization
import TallyStore
import TallyTestSupport
import Testing

/// tallyd on a real Redis Cluster (3 masters, each with a replica): each poll's votes go to the
/// master of its slot, daemons sharing the cluster never count a voter twice, and a slot that
/// moves (resharding) or a master that dies (failover) loses no acknowledged vote.
@Suite(.serialized) struct ClusterTests {
    static func config(_ cluster: RedisCluster, loops: Int = 2, timeout: Int = 2_000, _ extra: String = "") -> String {
        NativeFixture.config.replacingOccurrences(of: "loops = 2", with: "loops = \(loops)\ndrain_timeout_ms = 500")
            + "\n[redis]\ncluster = [\(cluster.seeds.map { "\"\($0)\"" }.joined(separator: ", "))]\ntimeout_ms = \(timeout)\n\(extra)"
    }

    /// A hash as the cluster has it (`redis-cli -c` follows redirections).
    static func hash(_ cluster: RedisCluster, _ key: String) throws -> [String: String] {
        WriteThroughTests.hash(try cluster.cli(["HGETALL", key]))
    }

    static func slot(_ poll: String) -> Int { ClusterSlot.ofPoll(UInt64(poll)!) }

    /// Votes for `poll` by new voters from 3 connections, on threads of their own, until the
    /// function returned is called; it returns every vote sent and its answer.
    static func voteInBackground(_ f: NativeFixture, _ poll: String) -> () -> [WriteThroughTests.Sent] {
        let stop = Atomic(false)
        let sent = Mutex<[WriteThroughTests.Sent]>([])
        let done = DispatchGroup()
        done.runOnOwnThread {
            let votes = WriteThroughTests.voteUntil(port: f.daemon.port, poll: poll, prefix: "fan", threads: 3, pause: 1_000) {
                stop.load(ordering: .relaxed)
            }
            sent.withLock { $0 = votes }
        }
        return {
            stop.store(true, ordering: .relaxed)
            done.wait()
            return sent.withLock { $0 }
        }
    }

    /// Makes the next poll created get an id whose slot `where` accepts.
    static func nextPollID(_ cluster: RedisCluster, where accepts: (Int) -> Bool) throws -> String {
        let last = Int(try cluster.cli(["GET", "tally:next-poll-id"])) ?? 0
        let id = ((last + 1)...).first { accepts(ClusterSlot.ofPoll(UInt64($0))) }!
        try cluster.cli(["SET", "tally:next-poll-id", "\(id - 1)"])
        return "\(id)"
    }

    @Test func eachPollsVotesGoToTheMasterOfItsSlot() throws {
        let cluster = try RedisCluster()
        // One master promises less than the others: /metrics shows the weakest (README).
        try cluster.masters()[1].cli(["CONFIG", "SET", "appendfsync", "everysec"])
        let f = try NativeFixture(config: Self.config(cluster), redis: cluster.nodes[0])
        let polls = try (0..<24).map { _ in try f.create() }
        for (index, poll) in polls.enumerated() {
            for voter in 0..<5 {
                let vote = f.vote(poll, "fan-\(voter)", #"{"choices":[\#((index + voter) % 4)]}"#)
                #expect(vote.status == 200, "\(vote)")
            }
        }
        var masters = Set<Int>()
        for (index, poll) in polls.enumerated() {
            let master = try cluster.master(ofSlot: Self.slot(poll))
            masters.insert(master.port)
            #expect(try master.cli(["HLEN", "{p:\(poll)}:ballots"]) == "5", "poll \(poll)'s ballots on the master of its slot")
            let expected = (0..<4).map { option in (0..<5).filter { (index + $0) % 4 == option }.count }
            #expect(NativeFixture.votes(f.results(poll)) == expected)
        }
        #expect(masters.count == 3, "24 polls over every master")
        #expect(f.metric(#"tally_redis_redirections_total{kind="moved"}"#) == 0, "each vote sent straight to its poll's master")
        #expect(f.metric(#"tally_redis_durability{policy="everysec"}"#) == 1 && f.metric(#"tally_redis_durability{policy="always"}"#) == 0)
        // A daemon started afterwards loads them all back from the three masters.
        let second = try NativeFixture(config: Self.config(cluster), redis: cluster.nodes[0])
        #expect(NativeFixture.votes(second.results(polls[5])) == NativeFixture.votes(f.results(polls[5])))
    }

    /// Three daemons, each voter voting through all of them at once (into polls of one shard and a
    /// poll of three): each voter counted once, in the tallies of the shard that holds their ballot.
    @Test func daemonsSharingTheClusterNeverCountAVoterTwice() throws {
        let cluster = try RedisCluster()
        let daemons = try (0..<3).map { _ in try NativeFixture(config: Self.config(cluster, loops: 1), redis: cluster.nodes[0]) }
        let polls = try [daemons[0].create(), daemons[0].create(), daemons[0].create(#""shards":3"#)]
        let shards = [1, 1, 3]
        for daemon in daemons[1...] {
            #expect(try CloseWorkerTests.eventually(5) { daemon.client.request("GET", "/v1/polls/\(polls[2])")?.status == 200 })
        }
        let voters = (0..<150).map { "fan-\($0)" }
        let answers = Mutex<[String: [Int?]]>([:])
        DispatchQueue.concurrentPerform(iterations: 3) { index in
            guard let client = try? daemons[index].daemon.client() else { return }
            for voter in voters {
                for poll in polls {
                    let status = client.request(
                        "POST", "/v1/polls/\(poll)/votes", headers: ["X-Voter-Id": voter], body: #"{"choices":[\#(index)]}"#)?.status
                    answers.withLock { $0["\(poll)/\(voter)", default: []].append(status) }
                }
            }
        }
        for (key, statuses) in answers.withLock({ $0 }) {
            #expect(statuses.filter { $0 == 200 }.count == 1 && statuses.allSatisfy { $0 == 200 || $0 == 409 }, "\(key): \(statuses)")
        }
        for (poll, count) in zip(polls, shards) {
            #expect(try ShardedPollTests.ballots(poll, count) { try cluster.cli($0) }.count == voters.count)
            var voted = 0
            var votes = 0
            for shard in ShardedPollTests.shards(poll, count) {
                let tallies = try Self.hash(cluster, KeySchema.key(.poll, shard))
                voted += Int(tallies["voters"] ?? "0")!
                votes += (0..<3).map { Int(tallies["\($0)"] ?? "0")! }.reduce(0, +)
            }
            #expect(voted == voters.count && votes == voters.count, "poll \(poll)")
        }
    }
}

extension ClusterTests {
    /// `redis-cli --cluster reshard` moves a hot poll's slot to another master while votes flow:
    /// the loops follow ASK and MOVED (and wait out TRYAGAIN), and every vote answered 200 is
    /// stored once, where the slot lives now.
    @Test func votesFlowWhileTheirSlotMovesToAnotherMaster() throws {
        let cluster = try RedisCluster(replicasPerMaster: 0)
        let f = try NativeFixture(config: Self.config(cluster), redis: cluster.nodes[0])
        let source = try cluster.master(ofSlot: 0)
        let target = cluster.masters().first { $0.port != source.port }!
        // A poll among the 200 slots the reshard moves (the source's lowest).
        let expected = try Self.nextPollID(cluster) { $0 < 200 }
        let poll = try f.create()
        try #require(poll == expected)
        let voting = Self.voteInBackground(f, poll)
        usleep(300_000)
        try cluster.reshard(slots: 200, from: source, to: target)
        usleep(300_000)
        let votes = voting()

        #expect(try cluster.master(ofSlot: Self.slot(poll)).port == target.port, "the slot moved")
        let accepted = votes.filter { $0.status == 200 }
        let stored = try WriteThroughTests.storedHash(target, "{p:\(poll)}:ballots")
        #expect(accepted.count > 100, "\(votes.count) sent, \(accepted.count) accepted")
        #expect(accepted.allSatisfy { stored[$0.voter] == WriteThroughTests.hex($0.choice) }, "every 200 stored, where the slot is now")
        let tallies = try WriteThroughTests.storedHash(target, "{p:\(poll)}:poll")
        #expect(tallies["voters"] == "\(stored.count)" && (0..<4).reduce(0) { $0 + Int(tallies["\($1)"] ?? "0")! } == stored.count)
        let redirections = (f.metric(#"tally_redis_redirections_total{kind="moved"}"#) ?? 0) + (f.metric(#"tally_redis_redirections_total{kind="ask"}"#) ?? 0)
        #expect(redirections > 0, "the loops followed the move")
        #expect(NativeFixture.votes(f.results(poll)).compactMap { $0 }.reduce(0, +) == stored.count)
    }

    /// The master of a hot poll's slot is killed mid-burst after its replica was cut off (paused,
    /// and its link closed by the master, as a network split would): the replica takes over
    /// without the votes since, and the daemon follows. With `replicas_to_ack = 1` those votes were
    /// answered 503 (WAIT fell short) and every vote answered 200 is in the cluster afterwards;
    /// with 0 they were answered 200, and are gone.
    @Test(arguments: [0, 1]) func aMasterKilledMidBurstKeepsEveryAcknowledgedVoteOnlyWithReplicasToAck(replicas: Int) throws {
        let cluster = try RedisCluster()
        // A WAIT gives up after half of timeout_ms: 500 ms, well within the 1.2 s the replica is cut off.
        let f = try NativeFixture(config: Self.config(cluster, timeout: 1_000, "replicas_to_ack = \(replicas)\n"), redis: cluster.nodes[0])
        let poll = try f.create()
        let old = try cluster.master(ofSlot: Self.slot(poll))
        let elsewhere = try Self.nextPollID(cluster) { (try? cluster.master(ofSlot: $0).port) != old.port }
        try #require(try f.create() == elsewhere)
        let replica = try #require(cluster.nodes.first { (try? $0.cli(["ROLE"]))?.split(separator: "\n").dropFirst(2).first == "\(old.port)" })
        for master in cluster.masters() { _ = try master.cli(["WAIT", "1", "5000"]) }  // replicas in sync
        let voting = Self.voteInBackground(f, poll)
        usleep(300_000)
        replica.pause()
        try old.cli(["CLIENT", "KILL", "TYPE", "replica"])
        usleep(1_200_000)
        old.kill()
        // Meanwhile the other masters' polls take votes (README).
        #expect(f.vote(elsewhere, "meanwhile", #"{"choices":[2]}"#).status == 200)
        replica.resume()
        try cluster.waitForMaster(ofSlot: Self.slot(poll))
        // The old master comes back as the new one's replica (the new master has none to confirm
        // votes until then); the daemon, which read the new map meanwhile, takes votes for
        // the slot again.
        try old.start()
        #expect(try CloseWorkerTests.eventually(10) { f.vote(poll, "late", #"{"choices":[3]}"#).status == 200 })
        let votes = voting()

        try cluster.waitForMaster(ofSlot: Self.slot(poll))  // every node's view settled after the restart
        let master = try cluster.master(ofSlot: Self.slot(poll))
        #expect(master.port == replica.port)
        let accepted = votes.filter { $0.status == 200 }
        let stored = try WriteThroughTests.storedHash(master, "{p:\(poll)}:ballots")
        let lost = accepted.filter { stored[$0.voter] != WriteThroughTests.hex($0.choice) }
        #expect(accepted.count > 50, "\(votes.count) sent, \(accepted.count) accepted")
        if replicas == 1 {
            #expect(lost.isEmpty, "\(lost.count) acknowledged votes lost: \(lost.prefix(5).map(\.voter))")
            #expect(votes.contains { $0.status == 503 }, "what the cut-off replica lacked was answered 503")
        } else {
            #expect(!lost.isEmpty, "0: votes answered 200 after the replica was cut off are gone")
        }
        #expect(try master.cli(["HGET", "{p:\(poll)}:poll", "voters"]) == "\(stored.count)", "tallies equal the ballots")
    }

    /// `tally-load` rehearses against a daemon on the cluster and checks its tallies in the
    /// cluster itself, through any node.
    @Test func tallyLoadChecksTalliesInTheCluster() throws {
        let cluster = try RedisCluster(replicasPerMaster: 0)
        let f = try NativeFixture(config: Self.config(cluster), redis: cluster.nodes[0])
        let run = try runToCompletion(
            LoadGeneratorTests.binary,
            LoadGeneratorTests.arguments(f, ["--check-redis", cluster.seeds[1], "--duration", "1", "--profile", "steady:300", "--voters", "100", "--polls", "3"]))
        #expect(run.status == 0, "\(run.output)")
    }

    /// A master that hangs (SIGSTOP: no reset, as in a network split) holds back its own polls'
    /// votes until the daemon gives up on it, and no other: each master has its own group commit.
    @Test func aHungMasterHoldsBackOnlyItsOwnPolls() throws {
        let cluster = try RedisCluster(replicasPerMaster: 0)
        let f = try NativeFixture(config: Self.config(cluster, loops: 1, timeout: 3_000), redis: cluster.nodes[0])
        let stuck = try f.create()
        let stuckMaster = try cluster.master(ofSlot: Self.slot(stuck))
        let other = try Self.nextPollID(cluster) { (try? cluster.master(ofSlot: $0).port) != stuckMaster.port }
        try #require(try f.create() == other)
        stuckMaster.pause()
        defer { stuckMaster.resume() }
        let waiting = Mutex<Int?>(nil)
        let done = DispatchGroup()
        done.runOnOwnThread {
            let client = try? RawClient(port: f.daemon.port)
            let status = client?.request("POST", "/v1/polls/\(stuck)/votes", headers: ["X-Voter-Id": "ann"], body: #"{"choices":[0]}"#)?.status
            waiting.withLock { $0 = status }
        }
        usleep(300_000)  // its call is with the hung master now
        let started = Date()
        let flowing = f.client.request("POST", "/v1/polls/\(other)/votes", headers: ["X-Voter-Id": "bob"], body: #"{"choices":[1]}"#)
        #expect(flowing?.status == 200)
        #expect(Date().timeIntervalSince(started) < 1, "answered in \(Date().timeIntervalSince(started)) s, not after the 3 s timeout")
        #expect(waiting.withLock { $0 } == nil, "the hung master's vote still waits")
        stuckMaster.resume()
        done.wait()
        // The master runs again (before the 3 s timeout) and answers the call it held.
        #expect(waiting.withLock { $0 } == 200)
    }

    /// Two daemons close a poll at its end date on the cluster: it is finalized once and its
    /// `closed` event, written on the stream's own master, appended once. A daemon that stopped
    /// between the two leaves the event pending; the next start appends it, still once.
    @Test func aPollClosesOnceWithOneEventAcrossDaemons() throws {
        let cluster = try RedisCluster(replicasPerMaster: 0)
        let daemons = try (0..<2).map { _ in try NativeFixture(config: Self.config(cluster, loops: 1), redis: cluster.nodes[0]) }
        let poll = try daemons[0].create(CloseWorkerTests.endingIn(1_000))
        #expect(try CloseWorkerTests.eventually(5) { daemons[1].client.request("GET", "/v1/polls/\(poll)")?.status == 200 })
        for (n, voter) in ["ann", "bob", "cat"].enumerated() { #expect(daemons[n % 2].vote(poll, voter, #"{"choices":[\#(n % 2)]}"#).status == 200) }
        let stream = try cluster.master(ofSlot: ClusterSlot.of(KeySchema.closedEvents))
        #expect(try CloseWorkerTests.eventually(5) { try !CloseWorkerTests.closedEvents(stream).isEmpty })
        usleep(300_000)
        var events = try CloseWorkerTests.closedEvents(stream)
        #expect(events.count == 1 && events.first?["poll"] == poll && events.first?["voters"] == "3" && events.first?["counts"] == "[2,1,0,0]")
        let rules = try Self.hash(cluster, "{p:\(poll)}:poll")
        #expect(rules["state"] == "closed" && rules["eventPending"] == nil && rules["closedAt"] == events.first?["closedAt"])

        // As if a daemon stopped after closing a second poll and before appending its event; and
        // the first poll's mark left behind after its event went out.
        let second = try daemons[0].create(CloseWorkerTests.endingIn(300))
        #expect(try CloseWorkerTests.eventually(5) { try CloseWorkerTests.closedEvents(stream).count == 2 })
        try cluster.cli(["HSET", "{p:\(poll)}:poll", "eventPending", "1"])
        try cluster.cli(["HSET", "{p:\(second)}:poll", "eventPending", "1"])
        try cluster.cli(["HDEL", ClosedEvents.sent, second])
        let secondEvent = try #require(try stream.cli(["XREVRANGE", KeySchema.closedEvents, "+", "-", "COUNT", "1"]).split(separator: "\n").first)
        try stream.cli(["XDEL", KeySchema.closedEvents, String(secondEvent)])
        _ = try NativeFixture(config: Self.config(cluster, loops: 1), redis: cluster.nodes[0])
        #expect(try CloseWorkerTests.eventually(5) { try CloseWorkerTests.closedEvents(stream).count == 2 })
        usleep(300_000)
        events = try CloseWorkerTests.closedEvents(stream)
        #expect(events.map { $0["poll"] } == [poll, second], "the second's event appended again, the first's not twice")
        #expect(try Self.hash(cluster, "{p:\(second)}:poll")["eventPending"] == nil)
    }
}
