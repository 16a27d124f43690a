import Foundation
import Synchronization
import TallyCore
import TallyStore
import TallyTestSupport
import Testing

/// A hot poll split into shards in Redis (`PollShards`): each voter's ballot in one shard, each
/// shard on the master of its own slot, results the sum over shards on every daemon, and the close
/// worker freezing every shard before it writes the poll's one `closed` event with the summed counts.
@Suite(.serialized) struct ShardedPollTests {
    static func shards(_ poll: String, _ count: Int) -> [PollShard] { PollShards(poll: UInt64(poll)!, count: count).all }

    /// Every ballot of every shard, as voter → ballot.
    static func ballots(_ poll: String, _ count: Int, _ cli: ([String]) throws -> String) throws -> [String: String] {
        var all: [String: String] = [:]
        for shard in shards(poll, count) {
            for (voter, ballot) in WriteThroughTests.hash(try cli(["HGETALL", KeySchema.ballots(shard)])) {
                #expect(all[voter] == nil, "voter \(voter) in two shards")
                all[voter] = ballot
            }
        }
        return all
    }

    /// Votes per option (4 options) the ballots add up to.
    static func counts(_ ballots: [String: String]) -> [Int?] {
        (0..<4).map { option in ballots.values.filter { (UInt64($0, radix: 16)! >> UInt64(option)) & 1 == 1 }.count }
    }

    /// `voters` voters, spread over `clients` connections to `daemons` (round robin); each vote's status.
    static func vote(_ poll: String, voters: Range<Int>, through daemons: [NativeFixture], clients: Int = 8) -> [Int?] {
        let statuses = Mutex([Int?](repeating: nil, count: voters.count))
        DispatchQueue.concurrentPerform(iterations: clients) { client in
            guard let connection = try? daemons[client % daemons.count].daemon.client() else { return }
            for index in stride(from: client, to: voters.count, by: clients) {
                let voter = voters.lowerBound + index
                let status = connection.request(
                    "POST", "/v1/polls/\(poll)/votes", headers: ["X-Voter-Id": "fan-\(voter)"], body: #"{"choices":[\#(voter % 3)]}"#)?.status
                statuses.withLock { $0[index] = status }
            }
        }
        return statuses.withLock { $0 }
    }

    @Test func aHotPollsShardsSpreadItsVotersOverEveryMaster() throws {
        let cluster = try RedisCluster(replicasPerMaster: 0)
        let daemons = try (0..<2).map { _ in try NativeFixture(config: ClusterTests.config(cluster), redis: cluster.nodes[0]) }
        let poll = try daemons[0].create(#""shards":6"#)
        #expect(try CloseWorkerTests.eventually(5) { daemons[1].client.request("GET", "/v1/polls/\(poll)")?.status == 200 })
        // Each shard has the rules before the poll's creation is answered.
        for shard in Self.shards(poll, 6) {
            #expect(try ClusterTests.hash(cluster, KeySchema.key(.poll, shard))["state"] == "open", "\(shard)")
        }
        let statuses = Self.vote(poll, voters: 0..<10_000, through: daemons)
        #expect(statuses.allSatisfy { $0 == 200 }, "\(Dictionary(grouping: statuses) { $0 }.mapValues(\.count))")

        // Two shards on each master, and so about a third of the voters.
        var perMaster: [Int: Int] = [:]
        for shard in Self.shards(poll, 6) {
            let master = try cluster.master(ofSlot: ClusterSlot.of(shard))
            perMaster[master.port, default: 0] += Int(try master.cli(["HLEN", KeySchema.ballots(shard)])) ?? 0
        }
        #expect(perMaster.count == 3 && perMaster.values.reduce(0, +) == 10_000, "\(perMaster)")
        for (port, ballots) in perMaster { #expect(abs(ballots - 3_333) <= 500, "master \(port) holds \(ballots) of 10 000 ballots") }
        #expect(try cluster.cli(["EXISTS", "{p:\(poll)}:ballots"]) == "0", "no ballot in the poll's own key")

        // Results on both daemons: the sum of every shard's ballots.
        let ballots = try Self.ballots(poll, 6) { try cluster.cli($0) }
        #expect(ballots.count == 10_000)
        let expected = Self.counts(ballots)
        #expect(expected == [3_334, 3_333, 3_333, 0])
        for daemon in daemons {
            #expect(try CloseWorkerTests.eventually(3) { NativeFixture.votes(daemon.results(poll)) == expected }, "\(daemon.results(poll))")
        }
        // A voter's second vote meets their ballot in their shard, whichever daemon takes it.
        #expect(daemons[1].client.request("POST", "/v1/polls/\(poll)/votes", headers: ["X-Voter-Id": "fan-7"], body: #"{"choices":[2]}"#)?.status == 409)
        // A daemon started now loads every shard's ballots back.
        let third = try NativeFixture(config: ClusterTests.config(cluster), redis: cluster.nodes[0])
        #expect(try CloseWorkerTests.eventually(5) { third.client.request("GET", "/readyz")?.status == 200 })
        #expect(NativeFixture.votes(third.results(poll)) == expected)
        #expect(third.client.request("POST", "/v1/polls/\(poll)/votes", headers: ["X-Voter-Id": "fan-8"], body: #"{"choices":[0]}"#)?.status == 409)
    }

    /// Two daemons close a sharded poll on the cluster: every shard frozen, the poll finalized once
    /// with the shards' summed counts, and one `closed` event.
    @Test func aShardedPollClosesOnceWithTheSummedCounts() throws {
        let cluster = try RedisCluster(replicasPerMaster: 0)
        let daemons = try (0..<2).map { _ in try NativeFixture(config: ClusterTests.config(cluster, loops: 1), redis: cluster.nodes[0]) }
        let poll = try daemons[0].create(#""shards":6,"# + CloseWorkerTests.endingIn(2_000))
        #expect(try CloseWorkerTests.eventually(5) { daemons[1].client.request("GET", "/v1/polls/\(poll)")?.status == 200 })
        #expect(Self.vote(poll, voters: 0..<60, through: daemons).allSatisfy { $0 == 200 })
        let stream = try cluster.master(ofSlot: ClusterSlot.of(KeySchema.closedEvents))
        #expect(try CloseWorkerTests.eventually(6) { try !CloseWorkerTests.closedEvents(stream).isEmpty })
        usleep(300_000)
        let events = try CloseWorkerTests.closedEvents(stream)
        #expect(events.count == 1 && events.first?["poll"] == poll && events.first?["voters"] == "60" && events.first?["counts"] == "[20,20,20,0]", "\(events)")
        let head = try ClusterTests.hash(cluster, "{p:\(poll)}:poll")
        #expect(head["state"] == "closed" && head["finalVoters"] == "60" && head["finalCounts"] == "[20,20,20,0]", "\(head)")
        for shard in Self.shards(poll, 6) { #expect(try ClusterTests.hash(cluster, KeySchema.key(.poll, shard))["state"] == "closed") }
        for daemon in daemons {
            #expect(CloseWorkerTests.state(daemon, poll) == "closed")
            #expect(NativeFixture.votes(daemon.results(poll)) == [20, 20, 20, 0])
        }
        // Without a count of its own, a poll that expects a crowd gets a shard per master, others one.
        let shards = { (poll: String) in daemons[0].asOrganizer("GET", "/v1/polls/\(poll)").json?["shards"] as? Int }
        #expect(shards(try daemons[0].create(#""expectedVoters":100000"#)) == 3)
        #expect(shards(try daemons[0].create(#""expectedVoters":99999"#)) == 1)
    }

    /// On one Redis too: a poll of three shards takes votes, is loaded back by a restarted daemon,
    /// follows organizer changes in every shard, closes with one event, and is deleted whole.
    @Test func aShardedPollOnOneRedis() throws {
        let redis = try RedisServer()
        var f = try NativeFixture(redis: redis)
        let poll = try f.create(#""shards":3,"# + CloseWorkerTests.endingIn(3_000))
        #expect(f.asOrganizer("GET", "/v1/polls/\(poll)").json?["shards"] as? Int == 3)
        #expect(Self.vote(poll, voters: 0..<300, through: [f], clients: 4).allSatisfy { $0 == 200 })
        let cli: ([String]) throws -> String = { try redis.cli($0) }
        let ballots = try Self.ballots(poll, 3, cli)
        #expect(ballots.count == 300 && Self.shards(poll, 3).allSatisfy { (Int((try? redis.cli(["HLEN", KeySchema.ballots($0)])) ?? "") ?? 0) > 60 })
        #expect(NativeFixture.votes(f.results(poll)) == [100, 100, 100, 0])

        // As if a daemon stopped between an organizer's save and its copy into a shard: a start
        // copies the rules again. Restarted: ballots back from every shard (a second vote is
        // refused, as the ledger has the first).
        let behind = KeySchema.key(.poll, Self.shards(poll, 3)[1])
        try redis.cli(["HSET", behind, "revision", "0", "state", "draft"])
        f = try NativeFixture(redis: redis)
        let copy = WriteThroughTests.hash(try redis.cli(["HGETALL", behind]))
        let head = WriteThroughTests.hash(try redis.cli(["HGETALL", "{p:\(poll)}:poll"]))
        #expect(copy["state"] == "open" && copy["revision"] == head["revision"], "\(copy)")
        #expect(NativeFixture.votes(f.results(poll)) == [100, 100, 100, 0])
        #expect(f.client.request("POST", "/v1/polls/\(poll)/votes", headers: ["X-Voter-Id": "fan-5"], body: #"{"choices":[0]}"#)?.status == 409)

        // An organizer's change reaches every shard's copy of the rules; the count of shards stays.
        #expect(f.asOrganizer("PATCH", "/v1/polls/\(poll)", #"{"revote":true}"#).status == 200)
        for shard in Self.shards(poll, 3) { #expect(WriteThroughTests.hash(try redis.cli(["HGETALL", KeySchema.key(.poll, shard)]))["revote"] == "1") }
        #expect(f.asOrganizer("PATCH", "/v1/polls/\(poll)", #"{"shards":1}"#).status == 400)
        #expect(f.client.request("POST", "/v1/polls/\(poll)/votes", headers: ["X-Voter-Id": "fan-5"], body: #"{"choices":[0]}"#)?.status == 200)

        // Closed at its end date: one event with the summed counts.
        #expect(try CloseWorkerTests.eventually(6) { try !CloseWorkerTests.closedEvents(redis).isEmpty })
        let events = try CloseWorkerTests.closedEvents(redis)
        #expect(events.count == 1 && events.first?["voters"] == "300" && events.first?["counts"] == "[101,100,99,0]", "\(events)")

        #expect(f.asOrganizer("DELETE", "/v1/polls/\(poll)").status == 204)
        for shard in Self.shards(poll, 3) {
            #expect(try redis.cli(["EXISTS", KeySchema.key(.poll, shard), KeySchema.ballots(shard)]) == "0")
        }

        // `[redis] shards` gives every new poll without a count of its own that many.
        let config = NativeFixture.config + "\n[redis]\naddress = \"127.0.0.1:\(redis.port)\"\nshards = 2\n"
        f = try NativeFixture(config: config, redis: redis)
        let other = try f.create()
        #expect(f.asOrganizer("GET", "/v1/polls/\(other)").json?["shards"] as? Int == 2)
        #expect(f.vote(other, "ann", #"{"choices":[1]}"#).status == 200)
        #expect(try Self.ballots(other, 2, cli) == ["ann": "0000000000000002"])
        #expect(f.asOrganizer("POST", "/v1/polls", #"{"question":"q","options":["a"],"shards":0}"#).status == 400)
    }
}
