import Foundation
import TallyCore
import TallyStore
import TallyTestSupport
import Testing

/// Key slots and the slot map, checked against a real Redis Cluster (3 masters, 3 replicas).
@Suite(.serialized) struct ClusterSlotsTests {
    @Test func slotsAreWhatTheClusterSays() throws {
        #expect(ClusterSlot.of("123456789") == 0x31C3 & 16_383, "the specification's CRC16 check value")
        let cluster = try RedisCluster()
        var keys = ["{p:42}:poll", "{p:42}:ballots", "tally:polls", "a{}b", "{}", "{{x}}", "a{b}{c}", "{", "}{x}", "x{y", "", "naïve"]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let alphabet = Array("ab{}:p0123456789")
            keys.append(String((0..<Int.random(in: 1...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }))
        }
        let redis = try BlockingRedis(host: "127.0.0.1", port: cluster.nodes[0].port)
        for key in keys { try redis.send(["CLUSTER", "KEYSLOT", key]) }
        for key in keys {
            #expect(ClusterSlot.of(key) == Int(try redis.receive { $0.integer ?? -1 }), "\(key)")
        }
        #expect(ClusterSlot.of("{p:42}:poll") == ClusterSlot.of("{p:42}:ballots"), "a poll's keys share a slot")
    }

    @Test func theMapNamesEachSlotsMasterAndFollowsMoves() throws {
        let cluster = try RedisCluster()
        let redis = try BlockingRedis(host: "127.0.0.1", port: cluster.nodes[4].port)  // any node answers
        var map = try redis.command(["CLUSTER", "SLOTS"]) { SlotMap(clusterSlots: $0) }
        #expect(map?.coversEverySlot == true && map?.masters.count == 3)
        for key in ["{p:1}:poll", "{p:2}:poll", "{p:3}:poll", "tally:polls"] {
            let slot = ClusterSlot.of(key)
            #expect(map?.master(ofSlot: slot) == "127.0.0.1:\(try cluster.master(ofSlot: slot).port)")
        }
        // A node that does not serve a key's slot says which one does.
        let slot = ClusterSlot.of("{p:1}:poll")
        let owner = try cluster.master(ofSlot: slot)
        let other = cluster.nodes.first { $0.port != owner.port && (try? $0.cli(["ROLE"]).hasPrefix("master")) == true }!
        let elsewhere = try BlockingRedis(host: "127.0.0.1", port: other.port)
        try elsewhere.send(["GET", "{p:1}:poll"])
        let redirection = try elsewhere.receive(acceptingErrors: true) { Redirection($0) }
        #expect(redirection == .moved(slot: slot, address: "127.0.0.1:\(owner.port)"))
        map?.move(slot: slot, to: "127.0.0.1:\(other.port)")
        #expect(map?.master(ofSlot: slot) == "127.0.0.1:\(other.port)" && map?.master(ofSlot: slot + 1 == 16_384 ? 0 : slot + 1) != nil)
    }
}

/// Every script a poll's writes use touches only that poll's keys, so each runs on the one node
/// of a Redis Cluster that serves the poll's slot (a script that touched another slot's key would
/// fail there). The close script is the exception still: it appends to `tally:closed`.
@Suite(.serialized) struct ClusterScriptsTests {
    @Test func aPollsScriptsRunOnItsOwnNode() throws {
        let cluster = try RedisCluster()
        let id: PollID = 7
        let node = try cluster.master(ofSlot: ClusterSlot.of(KeySchema.poll(id)))
        let redis = try BlockingRedis(host: "127.0.0.1", port: node.port)
        let definition = PollDefinition(question: "Q", options: ["a", "b"], rules: PollRules(revote: true))
        try cluster.cli(StoredPoll.listCommand(id: id))
        #expect(try redis.command(StoredPoll.saveCommand(id: id, definition: definition, lifecycle: .open)) { $0.integer } == 1)
        let now = try redis.command(["TIME"]) { (Int64($0[0].string!)! * 1_000_000) + Int64($0[1].string!)! }
        let vote = ["EVAL", VoteScript.source, "2", KeySchema.poll(id), KeySchema.ballots(id), "\(now + 5_000_000)", "ann", "0000000000000002"]
        #expect(try redis.command(vote) { $0[0].string } == "0000000000000000", "accepted, replacing no ballot")
        #expect(try redis.command(["HGET", KeySchema.ballots(id), "ann"]) { $0.string } == "0000000000000002")
        #expect(try redis.command(StoredPoll.saveCommand(id: id, definition: definition, lifecycle: .closed, expected: PollVersion(revision: 1, state: .open))) { $0.integer } == 2)
        #expect(try redis.command(StoredPoll.deleteCommand(id: id)) { $0.string } == "OK")
        try cluster.cli(StoredPoll.unlistCommand(id: id))
        #expect(try cluster.cli(["SCARD", KeySchema.polls]) == "0")
    }
}
