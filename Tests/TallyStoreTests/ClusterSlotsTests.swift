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

/// The workers' cluster client routes by slot and follows a slot that moves: `ASK` while it is
/// being migrated (the key already on the new node), `MOVED` once it has.
@Suite(.serialized) struct BlockingClusterTests {
    @Test func commandsFollowASlotMovingToAnotherMaster() throws {
        let cluster = try RedisCluster()
        let client = try BlockingCluster(.cluster(seeds: [cluster.seeds[2]]))
        #expect(client.map.masters.count == 3)
        let keys = (0..<30).map { "{p:\($0)}:poll" }
        for key in keys { try client.command(["HSET", key, "state", "open"], key: key) { _ in } }
        for key in keys { #expect(try cluster.cli(["HGET", key, "state"]) == "open") }

        // Move the slot of {p:1} by hand, as `redis-cli --cluster reshard` does.
        let key = "{p:1}:poll"
        let slot = ClusterSlot.of(key)
        let source = try cluster.master(ofSlot: slot)
        let target = cluster.nodes.first { $0.port != source.port && (try? $0.cli(["ROLE"]).hasPrefix("master")) == true }!
        let sourceID = try source.cli(["CLUSTER", "MYID"]), targetID = try target.cli(["CLUSTER", "MYID"])
        try target.cli(["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", sourceID])
        try source.cli(["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", targetID])
        try source.cli(["MIGRATE", "127.0.0.1", "\(target.port)", "", "0", "5000", "KEYS", key])
        #expect(try client.command(["HGET", key, "state"], key: key) { $0.string } == "open", "asked the new node")
        #expect(client.redirections.asked == 1 && client.redirections.moved == 0)
        for node in cluster.nodes where (try? node.cli(["ROLE"]).hasPrefix("master")) == true {
            try node.cli(["CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID])
        }
        try client.command(["HSET", key, "state", "closed"], key: key) { _ in }
        #expect(client.redirections.moved == 1 && client.map.master(ofSlot: slot) == "127.0.0.1:\(target.port)")
        #expect(try target.cli(["HGET", key, "state"]) == "closed", "written once, on the new master")
    }
}

extension BlockingClusterTests {
    /// A master is killed: its replica takes over, and once a command found the old one gone the
    /// client reads the map again and reaches the new one.
    @Test func aFailoverIsFollowed() throws {
        let cluster = try RedisCluster()
        let client = try BlockingCluster(.cluster(seeds: cluster.seeds))
        let key = "{p:5}:poll"
        try client.command(["HSET", key, "state", "open"], key: key) { _ in }
        let old = try cluster.master(ofSlot: ClusterSlot.of(key))
        _ = try old.cli(["WAIT", "1", "2000"])  // its replica has the key
        old.kill()
        try cluster.waitForMaster(ofSlot: ClusterSlot.of(key))
        var state: String?
        let deadline = Date().addingTimeInterval(10)  // every node's view of the new master settles within a few gossip rounds
        while state == nil && Date() < deadline {
            state = try? client.command(["HGET", key, "state"], key: key) { $0.string }
            if state == nil { usleep(100_000) }
        }
        #expect(state == "open")
        #expect(client.map.master(ofSlot: ClusterSlot.of(key)) != "127.0.0.1:\(old.port)")
    }
}

extension BlockingClusterTests {
    /// Many commands, one round trip per node; a slot that moved since the map was read is
    /// redirected and its commands sent again.
    @Test func aPipelineSpansTheNodesAndFollowsAMovedSlot() throws {
        let cluster = try RedisCluster(replicasPerMaster: 0)
        let client = try BlockingCluster(.cluster(seeds: [cluster.seeds[0]]))
        let keys = (0..<1_000).map { "{p:\($0)}:poll" }
        try client.pipeline(keys.map { (["HSET", $0, "state", "open"], $0) }) { _, _ in }
        // Move the slot of {p:7} to another master behind the client's back.
        let slot = ClusterSlot.of("{p:7}:poll")
        let source = try cluster.master(ofSlot: slot)
        let target = cluster.nodes.first { $0.port != source.port }!
        let targetID = try target.cli(["CLUSTER", "MYID"])
        try target.cli(["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", try source.cli(["CLUSTER", "MYID"])])
        try source.cli(["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", targetID])
        try source.cli(["MIGRATE", "127.0.0.1", "\(target.port)", "", "0", "5000", "KEYS", "{p:7}:poll"])
        for node in cluster.nodes { try node.cli(["CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID]) }
        var states = [String?](repeating: nil, count: keys.count)
        try client.pipeline(keys.map { (["HGET", $0, "state"], $0) }) { index, reply in states[index] = reply.string }
        #expect(states.allSatisfy { $0 == "open" })
        #expect(client.redirections.moved == 1 && client.map.master(ofSlot: slot) == "127.0.0.1:\(target.port)")
    }
}

extension ClusterSlotsTests {
    /// The vote path's slot of a poll, computed without building a key, is its keys' slot.
    @Test func aPollsSlotIsItsKeysSlot() {
        var random = SplitMix64(seed: 11)
        let ids = [0, 1, 9, 10, 99, 100, UInt64.max] + (0..<5_000).map { _ in UInt64.random(in: 0...UInt64.max >> UInt64.random(in: 0...63, using: &random), using: &random) }
        for id in ids { #expect(ClusterSlot.ofPoll(id) == ClusterSlot.of(KeySchema.poll(id)), "poll \(id)") }
    }

    /// What a node answers goes through two parsers: a redirection in an error reply, and a
    /// `CLUSTER SLOTS` map. Almost-right replies of both (built by a real Redis from mutated text
    /// and JSON) are refused or read, never crash, and a map read covers only slots in range.
    @Test func almostRightRedirectionsAndSlotMapsNeverCrash() throws {
        let redis = try RedisServer()
        let client = try BlockingRedis(host: "127.0.0.1", port: redis.port)
        var random = SplitMix64(seed: 27)
        for seed in ["MOVED 3999 127.0.0.1:6381", "ASK 16383 [::1]:7000", "TRYAGAIN Multiple keys request during rehashing of slot"] {
            for _ in 0..<600 {
                var text = Array(seed.utf8)
                ByteMutation.apply(to: &text, favouring: Array(" 0123456789:-MOVEDASK".utf8), &random)
                try client.send(["EVAL", "return redis.error_reply(ARGV[1])", "0", String(decoding: text, as: UTF8.self)])
                try client.receive(acceptingErrors: true) { reply in
                    switch Redirection(reply) {
                    case .moved(let slot, _), .ask(let slot, _): #expect((0..<ClusterSlot.count).contains(slot))
                    case nil: break
                    }
                }
            }
        }
        let map = #"[[0,5460,["127.0.0.1",7000,"a"],["127.0.0.1",7003,"d"]],[5461,10922,["127.0.0.1",7001,"b"]],[10923,16383,["127.0.0.1",7002,"c"]]]"#
        var read = 0
        for _ in 0..<2_000 {
            var text = Array(map.utf8)
            ByteMutation.apply(to: &text, favouring: Array("[],-\"0123456789".utf8), &random)
            // cjson turns JSON arrays into nested replies, numbers into integers, strings into bulk strings.
            try client.send(["EVAL", "local ok, v = pcall(cjson.decode, ARGV[1]); if ok then return v end; return 0", "0",
                             String(decoding: text, as: UTF8.self)])
            try client.receive(acceptingErrors: true) { reply in
                guard let slots = SlotMap(clusterSlots: reply) else { return }
                read += 1
                for slot in [0, 5460, 5461, 16383] { _ = slots.master(ofSlot: slot) }
            }
        }
        #expect(read > 0, "some mutations are still maps")
    }
}
