import CLibUV
import Foundation
import TallyBase
import TallyStore
import TallyTestSupport
import Testing

/// A libuv loop on the test's thread, run until a condition holds, and a RedisConnection on it.
final class LoopHarness {
    let loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
    private let ticker = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
    var replies: [(tag: UInt64, text: String?)] = []
    var states: [RedisConnection.State] = []
    let commands = ByteBuffer(capacity: 1024)
    private(set) var redis: RedisConnection!

    init(port: Int) {
        uv_loop_init(loop)
        uv_timer_init(loop, ticker)
        uv_timer_start(ticker, { _ in }, 5, 5)  // wakes the loop so `run(until:)` checks its condition
        redis = RedisConnection(host: "127.0.0.1", port: port, loop: loop)
        redis.onReply = { [unowned self] tag, reply in replies.append((tag, reply.map(LoopHarness.describe))) }
        redis.onStateChange = { [unowned self] state in states.append(state) }
    }

    deinit {
        // Stopping calls back at once (hiredis tears down synchronously): detach from self first.
        redis.onReply = { _, _ in }
        redis.onStateChange = { _ in }
        redis.stop()
        uv_close(UnsafeMutablePointer<uv_handle_t>(OpaquePointer(ticker)), nil)
        while uv_run(loop, UV_RUN_NOWAIT) != 0 {}
        uv_loop_close(loop)
        loop.deallocate()
        ticker.deallocate()
    }

    /// A harness whose connection to `server` is ready.
    static func ready(on server: RedisServer, sourceLocation: SourceLocation = #_sourceLocation) -> LoopHarness {
        let harness = LoopHarness(port: server.port)
        #expect(harness.run(until: { harness.redis.state == .ready }), "connected", sourceLocation: sourceLocation)
        return harness
    }

    /// Runs the loop until `condition` or `timeout` seconds; returns the condition.
    @discardableResult
    func run(until condition: () -> Bool, timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() && Date() < deadline { uv_run(loop, UV_RUN_ONCE) }
        return condition()
    }

    /// Sends a command (strings) with `tag`; false if the connection refused it.
    @discardableResult
    func send(_ arguments: [String], tag: UInt64) -> Bool {
        commands.removeAll()
        RESPWriter(commands).command(arguments)
        return redis.send(commands.bytes, tag: tag)
    }

    /// Sends and waits for the reply's text.
    func call(_ arguments: [String]) -> String? {
        let tag = UInt64(replies.count + 1_000_000)
        guard send(arguments, tag: tag) else { return "not sent" }
        run(until: { replies.contains { $0.tag == tag } })
        return replies.first { $0.tag == tag }?.text
    }

    static func describe(_ reply: RedisReply) -> String {
        if reply.isArray { return (0..<reply.count).map { describe(reply[$0]) }.joined(separator: " ") }
        if let integer = reply.integer { return String(integer) }
        if reply.isNil { return "nil" }
        return (reply.isError ? "ERR:" : "") + (reply.string ?? "?")
    }
}

@Suite(.serialized) struct RedisConnectionTests {
    @Test func connectsAndAnswersInOrder() throws {
        let server = try RedisServer()
        let harness = LoopHarness.ready(on: server)
        for tag in 1...50 { #expect(harness.send(["ECHO", "reply \(tag)"], tag: UInt64(tag))) }
        #expect(harness.run(until: { harness.replies.count == 50 }))
        #expect(harness.replies.map(\.tag) == (1...50).map(UInt64.init))
        #expect(harness.replies.map(\.text) == (1...50).map { "reply \($0)" })
    }

    @Test func repliesAreBuiltInTheArenaAndOnlyOversizeOnesSpillToMalloc() throws {
        let server = try RedisServer()
        let harness = LoopHarness.ready(on: server)
        let nested = "return {'accepted:0000000000000001', 7, false, {'inner', 'x'}, redis.error_reply('NOSCRIPT no')}"
        for _ in 0..<100 { #expect(harness.call(["EVAL", nested, "0"]) == "accepted:0000000000000001 7 nil inner x ERR:NOSCRIPT no") }
        #expect(harness.redis.replySpills == 0)
        let large = harness.call(["EVAL", "local t = {} for i = 1, 20000 do t[i] = 'verdict-' .. i end return t", "0"])
        let words = large?.split(separator: " ") ?? []
        #expect(words.count == 20_000 && words.first == "verdict-1" && words.last == "verdict-20000")
        #expect(harness.redis.replySpills > 0, "a reply beyond the arena")
        let spills = harness.redis.replySpills
        #expect(harness.call(["EVAL", nested, "0"]) == "accepted:0000000000000001 7 nil inner x ERR:NOSCRIPT no")
        #expect(harness.redis.replySpills == spills, "the arena is whole again after the large reply")
    }

    @Test func decimalRepliesAreReadWithoutOverflowOrGuessing() throws {
        let server = try RedisServer()
        let harness = LoopHarness.ready(on: server)
        var values: [Int64?] = []
        harness.redis.onReply = { _, reply in values = (0..<(reply?.count ?? 0)).map { reply![$0].decimal } }
        let script = "return {'42', '-7', '', '-', 'x1', '123456789012345678', '1234567890123456789', 5, false}"
        harness.send(["EVAL", script, "0"], tag: 1)
        #expect(harness.run(until: { !values.isEmpty }))
        #expect(values == [42, -7, nil, nil, nil, 123_456_789_012_345_678, nil, 5, nil])
    }

    @Test func refusesWhileDownAndReconnectsWithBackoff() throws {
        let server = try RedisServer()
        let harness = LoopHarness.ready(on: server)
        server.kill()
        #expect(harness.run(until: { harness.redis.state == .down }))
        #expect(!harness.send(["PING"], tag: 1), "no command is accepted while down")
        try server.start()
        #expect(harness.run(until: { harness.redis.state == .ready }, timeout: 10))
        #expect(harness.call(["PING"]) == "PONG")
    }

    @Test func commandsInFlightWhenRedisDiesGetNoReply() throws {
        let server = try RedisServer()
        let harness = LoopHarness.ready(on: server)
        server.pause()  // alive but silent: commands wait
        for tag in 1...5 { harness.send(["INCR", "x"], tag: UInt64(tag)) }
        harness.run(until: { false }, timeout: 0.2)
        #expect(harness.replies.isEmpty && harness.redis.inFlight == 5)
        server.kill()
        #expect(harness.run(until: { harness.replies.count == 5 }), "states \(harness.states), replies \(harness.replies.count), in flight \(harness.redis.inFlight)")
        #expect(harness.replies.allSatisfy { $0.text == nil }, "unknown outcome: never acknowledged")
    }
}

extension RedisConnectionTests {
    /// Commands are written before the loop waits, not on writability; a socket that takes only
    /// part of them must still get the rest once Redis reads again.
    @Test func commandsLargerThanTheSocketTakesAreWrittenWhenRedisDrainsIt() throws {
        let server = try RedisServer()
        let harness = LoopHarness.ready(on: server)
        harness.redis.commandTimeoutMilliseconds = 10_000
        server.pause()
        let value = String(repeating: "v", count: 8 << 20)
        for tag in 1...4 { #expect(harness.send(["SET", "big\(tag)", value], tag: UInt64(tag))) }
        harness.run(until: { false }, timeout: 0.3)
        #expect(harness.replies.isEmpty && harness.redis.inFlight == 4, "32 MB cannot all be in the socket yet")
        server.resume()
        #expect(harness.run(until: { harness.replies.count == 4 }, timeout: 20))
        #expect(harness.replies.map(\.text) == ["OK", "OK", "OK", "OK"])
        #expect(harness.call(["STRLEN", "big4"]) == "\(8 << 20)")
    }

    @Test func aRedisThatStopsAnsweringIsGivenUpOnAndRejoinedWhenBack() throws {
        let server = try RedisServer()
        let harness = LoopHarness.ready(on: server)
        harness.redis.commandTimeoutMilliseconds = 300
        server.pause()
        for tag in 1...3 { harness.send(["INCR", "x"], tag: UInt64(tag)) }
        let start = Date()
        #expect(harness.run(until: { harness.replies.count == 3 }, timeout: 3))
        #expect(harness.replies.allSatisfy { $0.text == nil } && harness.redis.state != .ready)
        #expect(Date().timeIntervalSince(start) < 1, "given up on after the timeout, not later")
        server.resume()
        #expect(harness.run(until: { harness.redis.state == .ready }, timeout: 10))
        #expect(harness.call(["PING"]) == "PONG")
    }
}

@Suite(.serialized) struct VoteScriptTests {
    let server: RedisServer
    let harness: LoopHarness
    let sha: String

    init() throws {
        let server = try RedisServer()
        let harness = LoopHarness.ready(on: server)
        sha = harness.call(["SCRIPT", "LOAD", VoteScript.source]) ?? ""
        self.server = server
        self.harness = harness
    }

    func setRules(_ poll: UInt64, state: String = "open", options: Int = 4, maxVotes: Int = 1, revote: Bool = false, closesAt: String = "", closesOnEnd: Bool = true) {
        _ = harness.call([
            "HSET", KeySchema.poll(poll), "state", state, "options", "\(options)", "maxVotes", "\(maxVotes)",
            "revote", revote ? "1" : "0", "closesAt", closesAt, "closesOnEnd", closesOnEnd ? "1" : "0",
        ])
    }

    /// The verdicts of a vote-script call.
    func vote(_ poll: UInt64, _ votes: [(String, [Int])]) -> [String] {
        Array(call(poll, votes).prefix(votes.count))
    }

    /// The whole reply, flattened, without Redis' time at its end: verdicts, then the tallies
    /// (version, voters, each option).
    func call(_ poll: UInt64, _ votes: [(String, [Int])], deadline: Int64 = Int64.max / 2) -> [String] {
        Array(callWithTime(poll, votes, deadline: deadline).dropLast())
    }

    func callWithTime(_ poll: UInt64, _ votes: [(String, [Int])], deadline: Int64) -> [String] {
        let ballots = votes.map { _, options in
            let hex = String(options.reduce(UInt64(0)) { $0 | (1 << UInt64($1)) }, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }
        let arguments = ["EVALSHA", sha, "2", KeySchema.poll(poll), KeySchema.ballots(poll), "\(deadline)"] + votes.map(\.0) + ballots
        return (harness.call(arguments) ?? "").split(separator: " ").map(String.init)
    }

    /// The tallies among the poll's fields: `voters` and each option's count, if set.
    func counts(_ poll: UInt64) -> [String: Int] {
        let fields = ["voters"] + (0..<64).map(String.init)
        let values = (harness.call(["HMGET", KeySchema.poll(poll)] + fields) ?? "").split(separator: " ").map(String.init)
        return Dictionary(uniqueKeysWithValues: zip(fields, values).compactMap { field, value in Int(value).map { (field, $0) } })
    }

    @Test func scriptLoads() {
        #expect(sha.count == 40, "\(sha)")
    }

    @Test func recordsBallotsAndRejectsWhatTheRulesForbid() {
        setRules(1, maxVotes: 2)
        let verdicts = vote(1, [
            ("ann", [0, 1]), ("ann", [0, 1]), ("ann", [2]), ("bob", [0, 1, 2]), ("bob", [4]), ("bob", []), ("cat", [3]),
        ])
        #expect(verdicts == [
            "0000000000000000", "unchanged", "alreadyVoted", "tooManyOptions", "optionOutOfRange", "emptyBallot",
            "0000000000000000",
        ])
        #expect(counts(1) == ["0": 1, "1": 1, "3": 1, "voters": 2])
        #expect(vote(99, [("ann", [0])]) == ["unknownPoll"])
    }

    @Test func aBallotThatIsNot16HexDigitsIsRefusedAndCountsNothing() {
        setRules(10)
        // Uppercase too: the daemon reads stored ballots as lowercase only.
        for ballot in ["00000000000000g1", "0000000000000001x", "1", "000000000000000 ", "000000000000000A"] {
            let reply = harness.call(["EVALSHA", sha, "2", KeySchema.poll(10), KeySchema.ballots(10), "\(Int64.max / 2)", "ann", ballot]) ?? ""
            #expect(reply.hasPrefix("optionOutOfRange "), "\(ballot): \(reply)")
        }
        #expect(counts(10) == [:])
    }

    @Test func revoteMovesCountsAndAnEmptyBallotWithdraws() {
        setRules(2, options: 64, maxVotes: 0, revote: true)
        #expect(vote(2, [("ann", [0, 63])]) == ["0000000000000000"])
        #expect(vote(2, [("ann", [1, 63])]) == ["8000000000000001"])
        #expect(counts(2) == ["0": 0, "1": 1, "63": 1, "voters": 1])
        #expect(vote(2, [("ann", [])]) == ["8000000000000002"])
        #expect(counts(2) == ["0": 0, "1": 0, "63": 0, "voters": 0])
        #expect(harness.call(["HLEN", KeySchema.ballots(2)]) == "0")
    }

    @Test func aVoterWhoVotesSeveralTimesInOneCallEndsWithTheLastBallot() {
        setRules(11, maxVotes: 0, revote: true)
        #expect(vote(11, [("dan", [3])]) == ["0000000000000000"])
        let verdicts = vote(11, [
            ("ann", [0]), ("ann", []), ("bob", [1]), ("bob", []), ("bob", [2]), ("cat", []), ("cat", [1]), ("dan", []), ("dan", [0]),
        ])
        #expect(verdicts == [
            "0000000000000000", "0000000000000001", "0000000000000000", "0000000000000002", "0000000000000000", "unchanged",
            "0000000000000000", "0000000000000008", "0000000000000000",
        ])
        let stored = ["ann", "bob", "cat", "dan"].map { harness.call(["HGET", KeySchema.ballots(11), $0]) ?? "" }
        #expect(stored == ["nil", "0000000000000004", "0000000000000002", "0000000000000001"])
        #expect(counts(11) == ["0": 1, "1": 1, "2": 1, "3": 0, "voters": 3])
    }

    @Test func theReplyEndsWithTheTalliesVersionedByChange() {
        setRules(9, options: 3, revote: true)
        #expect(call(9, [("ann", [0]), ("bob", [2])]) == ["0000000000000000", "0000000000000000", "1", "2", "1", "nil", "1"])
        #expect(call(9, [("ann", [0])]) == ["unchanged", "1", "2", "1", "nil", "1"], "no change, same version")
        #expect(call(9, [("ann", [1])]) == ["0000000000000001", "2", "2", "0", "1", "1"])
        #expect(call(99, [("ann", [0])]) == ["unknownPoll"], "no tallies for an unknown poll")
    }

    /// A `+` ballot adds its options to the voter's stored one (Mastodon): a voter's choices from
    /// several calls (and daemons) add up; an option already chosen, or a second vote on a
    /// single-choice poll, is refused; an addition beyond the poll's limit too.
    @Test func ballotsThatAddOptions() {
        setRules(13, options: 8, maxVotes: 0)
        func add(_ voter: String, _ options: [Int], poll: UInt64 = 13) -> [String] {
            let hex = String(options.reduce(UInt64(0)) { $0 | (1 << UInt64($1)) }, radix: 16)
            let ballot = "+" + String(repeating: "0", count: 16 - hex.count) + hex
            let reply = harness.call(["EVALSHA", sha, "2", KeySchema.poll(poll), KeySchema.ballots(poll), "\(Int64.max / 2)", voter, ballot]) ?? ""
            return Array(reply.split(separator: " ").map(String.init).prefix(1))
        }
        #expect(add("ann", [0, 7]) == ["0000000000000000"])
        #expect(add("ann", [3]) == ["0000000000000081"], "accepted: the ballot it replaced")
        #expect(harness.call(["HGET", KeySchema.ballots(13), "ann"]) == "0000000000000089")
        #expect(add("ann", [3, 4]) == ["alreadyVoted"])
        #expect(counts(13) == ["0": 1, "3": 1, "7": 1, "voters": 1])
        setRules(14, options: 4, maxVotes: 1)
        #expect(add("bob", [2], poll: 14) == ["0000000000000000"])
        #expect(add("bob", [1], poll: 14) == ["alreadyVoted"])
        setRules(15, options: 4, maxVotes: 2)
        #expect(add("cat", [0], poll: 15) == ["0000000000000000"])
        #expect(add("cat", [1, 2], poll: 15) == ["tooManyOptions"])
        #expect(counts(15) == ["0": 1, "voters": 1])
    }

    /// A call Redis runs at or after its deadline (a daemon that gave up on it answered 503) stores
    /// nothing; every reply ends with Redis' time, from which daemons learn its clock.
    @Test func aCallRunAfterItsDeadlineStoresNothing() throws {
        setRules(12, revote: true)
        #expect(vote(12, [("ann", [0])]) == ["0000000000000000"])
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let late = callWithTime(12, [("ann", [1]), ("bob", [2])], deadline: now)
        #expect(late.prefix(2) == ["late", "late"])
        let redisTime = try #require(late.last.flatMap { Int64($0) })
        #expect(abs(redisTime - now) < 5_000_000, "Redis' time in µs")
        #expect(harness.call(["HGET", KeySchema.ballots(12), "ann"]) == "0000000000000001")
        #expect(harness.call(["HEXISTS", KeySchema.ballots(12), "bob"]) == "0")
        #expect(counts(12) == ["0": 1, "voters": 1])
        #expect(vote(12, [("bob", [2])]) == ["0000000000000000"], "the same vote before its deadline")
    }

    @Test func stateAndDeadlineAreJudgedByRedis() {
        setRules(3, state: "draft")
        #expect(vote(3, [("ann", [0])]) == ["notOpenYet"])
        setRules(4, state: "closed")
        #expect(vote(4, [("ann", [0])]) == ["closed"])
        let past = String(Int64(Date().timeIntervalSince1970 * 1_000_000) - 1)
        setRules(5, closesAt: past)
        #expect(vote(5, [("ann", [0])]) == ["expired"])
        setRules(6, closesAt: past, closesOnEnd: false)
        #expect(vote(6, [("ann", [0])]) == ["0000000000000000"], "an end date that does not close")
    }

    @Test func aBatchLargerThanOneCommandsArgumentChunkIsWhole() {
        setRules(8, revote: true)
        let verdicts = vote(8, (0..<2_500).map { ("v\($0)", [$0 % 4]) } + (0..<1_200).map { ("v\($0)", []) })
        #expect(verdicts.count == 3_700)
        #expect(verdicts.allSatisfy { $0.count == 16 && $0.allSatisfy(\.isHexDigit) }, "every vote accepted")
        #expect(harness.call(["HLEN", KeySchema.ballots(8)]) == "1300")
        #expect(counts(8) == ["0": 325, "1": 325, "2": 325, "3": 325, "voters": 1_300])
    }

    /// Batches of 20 votes by 15 voters (so most voters vote more than once in a call), choosing up
    /// to `maxVotes` (0: up to 8) of `options` options: every option of a 64-bit ballot is reached.
    @Test(arguments: [(poll: UInt64(7), options: 6, maxVotes: 3), (poll: UInt64(8), options: 64, maxVotes: 0)])
    func randomBatchesKeepCountsEqualToTheStoredBallots(poll: UInt64, options: Int, maxVotes: Int) {
        setRules(poll, options: options, maxVotes: maxVotes, revote: true)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            let batch = (0..<20).map { _ in
                let chosen = (0..<Int.random(in: 0...(maxVotes == 0 ? 8 : maxVotes), using: &generator)).map { _ in Int.random(in: 0..<options, using: &generator) }
                return ("v\(Int.random(in: 0..<15, using: &generator))", Array(Set(chosen)))
            }
            _ = vote(poll, batch)
        }
        let ballots = (harness.call(["HVALS", KeySchema.ballots(poll)]) ?? "").split(separator: " ").compactMap { UInt64($0, radix: 16) }
        let actual = counts(poll)
        for option in 0..<options {
            #expect(actual["\(option)", default: 0] == ballots.filter { $0 & (1 << UInt64(option)) != 0 }.count, "option \(option)")
        }
        #expect(actual["voters", default: 0] == ballots.count)
    }
}
