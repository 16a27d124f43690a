import Foundation
import Synchronization
import TallyTestSupport
import Testing

/// Votes written through to a real Redis: nothing acknowledged is lost (daemon crash, Redis
/// stalled or killed), and daemons sharing Redis never count a voter twice.
@Suite(.serialized) struct WriteThroughTests {
    static let config = NativeFixture.config.replacingOccurrences(of: "loops = 2", with: "loops = 2\ndrain_timeout_ms = 500")

    /// What a voter asked for and what the daemon answered.
    struct Sent {
        let voter: String
        let choice: Int
        let status: Int?
        let retryAfter: Bool
    }

    /// Votes from `threads` connections at once (a thread each), voter names `prefix-thread-n`,
    /// choice n % 4, until `stop()`; each thread waits `pause` µs between votes (a steady flow
    /// instead of all the machine can take, so that tests running beside keep their timing).
    static func voteUntil(
        port: Int, poll: String, prefix: String, threads: Int = 4, perThread: Int = 100_000, pause: UInt32 = 0,
        stop: @escaping @Sendable () -> Bool
    ) -> [Sent] {
        let results = Mutex<[Sent]>([])
        let finished = DispatchGroup()
        for thread in 0..<threads {
            finished.enter()
            Thread {
                defer { finished.leave() }
                var sent: [Sent] = []
                var client = try? RawClient(port: port)
                for n in 0..<perThread where !stop() {
                    let voter = "\(prefix)-\(thread)-\(n)"
                    guard let connection = client else { break }
                    let response = connection.request(
                        "POST", "/v1/polls/\(poll)/votes", headers: ["X-Voter-Id": voter], body: #"{"choices":[\#(n % 4)]}"#)
                    sent.append(
                        Sent(voter: voter, choice: n % 4, status: response?.status, retryAfter: response?.headers["retry-after"] != nil))
                    if response == nil { client = try? RawClient(port: port) }  // the daemon closed or went away
                    if pause > 0 { usleep(pause) }
                }
                results.withLock { $0 += sent }
            }.start()
        }
        finished.wait()
        return results.withLock { $0 }
    }

    /// A Redis hash, field → value.
    static func storedHash(_ redis: RedisServer, _ key: String) throws -> [String: String] { hash(try redis.cli(["HGETALL", key])) }

    /// `redis-cli HGETALL`'s output (a line per field, then its value) as field → value.
    static func hash(_ output: String) -> [String: String] {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return Dictionary(uniqueKeysWithValues: stride(from: 0, to: lines.count - 1, by: 2).map { (lines[$0], lines[$0 + 1]) })
    }

    static func storedBallots(_ redis: RedisServer, _ poll: String) throws -> [String: String] {
        try storedHash(redis, "{p:\(poll)}:ballots")
    }

    static func storedCounts(_ redis: RedisServer, _ poll: String) throws -> [String: Int] {
        // The tallies among the poll's fields: option indexes and `voters`.
        try storedHash(redis, "{p:\(poll)}:poll").filter { $0.key == "voters" || Int($0.key) != nil }.mapValues { Int($0)! }
    }

    static func hex(_ choice: Int) -> String { String(format: "%016llx", UInt64(1) << UInt64(choice)) }

    /// Every acknowledged vote is stored, and the counts are exactly the stored ballots'.
    static func expectConsistent(_ redis: RedisServer, _ poll: String, _ sent: [Sent]) throws {
        let ballots = try storedBallots(redis, poll)
        let acknowledged = sent.filter { $0.status == 200 }
        #expect(!acknowledged.isEmpty)
        let lost = acknowledged.filter { ballots[$0.voter] != hex($0.choice) }
        #expect(lost.isEmpty, "acknowledged but not stored: \(lost.prefix(5))")
        let counts = try storedCounts(redis, poll)
        for option in 0..<4 {
            #expect((counts["\(option)"] ?? 0) == ballots.values.filter { $0 == hex(option) }.count, "option \(option)")
        }
        #expect((counts["voters"] ?? 0) == ballots.count)
    }

    @Test func aDaemonKilledUnderLoadLosesNoAcknowledgedVote() throws {
        let redis = try RedisServer()
        let first = try NativeFixture(config: WriteThroughTests.config, redis: redis)
        let poll = try first.create()
        let killed = SharedState()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.4) {
            first.daemon.kill()
            killed.set()
        }
        let sent = WriteThroughTests.voteUntil(port: first.daemon.port, poll: poll, prefix: "crash") { killed.isSet }
        try WriteThroughTests.expectConsistent(redis, poll, sent)

        // A new daemon continues where the data says: same results, same ballots.
        let second = try NativeFixture(config: WriteThroughTests.config, redis: redis)
        let counts = try WriteThroughTests.storedCounts(redis, poll)
        let results = second.asOrganizer("GET", "/v1/polls/\(poll)/results")
        #expect(NativeFixture.votes(results) == (0..<4).map { counts["\($0)"] ?? 0 })
        let someone = try #require(sent.first { $0.status == 200 })
        let again = second.client.request(
            "POST", "/v1/polls/\(poll)/votes", headers: ["X-Voter-Id": someone.voter], body: #"{"choices":[\#((someone.choice + 1) % 4)]}"#)
        #expect(again?.status == 409, "the restarted daemon knows this voter has voted")
    }

    @Test func redisStalledThenKilledGets503AndTheDaemonRecoversByItself() throws {
        let redis = try RedisServer()
        let f = try NativeFixture(config: WriteThroughTests.config + "\n[redis]\naddress = \"127.0.0.1:\(redis.port)\"\ntimeout_ms = 300\n", redis: redis)
        let poll = try f.create()
        let phase = SharedState()  // 0 voting, 1 paused, 2 killed, 3 restarted, 4 done
        let readyWhileDown = Mutex<Int?>(nil)
        DispatchQueue.global().async {
            usleep(300_000)
            redis.pause()
            phase.set(1)
            usleep(600_000)
            redis.kill()
            phase.set(2)
            usleep(400_000)
            readyWhileDown.withLock { $0 = (try? RawClient(port: f.daemon.port))?.request("GET", "/readyz")?.status }
            try? redis.start()
            phase.set(3)
            usleep(1_500_000)
            phase.set(4)
        }
        let sent = WriteThroughTests.voteUntil(port: f.daemon.port, poll: poll, prefix: "fault", threads: 2) { phase.value == 4 }
        let refused = sent.filter { $0.status == 503 }
        #expect(!refused.isEmpty && refused.allSatisfy(\.retryAfter), "votes during the outage get 503 with Retry-After")
        #expect(sent.allSatisfy { $0.status == 200 || $0.status == 503 }, "\(Set(sent.map(\.status)))")
        #expect(readyWhileDown.withLock { $0 } == 503, "/readyz while Redis is down")
        #expect(sent.suffix(20).contains { $0.status == 200 }, "voting works again after Redis is back")
        #expect(f.client.request("GET", "/readyz")?.status == 200)
        try WriteThroughTests.expectConsistent(redis, poll, sent)
        // This daemon's results are Redis's.
        let counts = try WriteThroughTests.storedCounts(redis, poll)
        let fresh = try f.daemon.client()
        let results = fresh.request("GET", "/v1/polls/\(poll)/results", headers: ["Authorization": "Bearer \(NativeFixture.organizer)"])!
        #expect(NativeFixture.votes(results) == (0..<4).map { counts["\($0)"] ?? 0 })
    }

    /// The votes waiting for Redis are bounded: with Redis stalled, a loop holds `max_pending_votes`
    /// and refuses the rest at once with 503, its memory flat however many come; once Redis is back,
    /// the held votes are stored and acknowledged, and no refused vote was stored.
    @Test func votesBeyondThePendingLimitAreRefusedAtOnceAndMemoryStaysFlat() throws {
        let redis = try RedisServer()
        let config = NativeFixture.config.replacingOccurrences(of: "loops = 2", with: "loops = 1")
            + "\n[redis]\naddress = \"127.0.0.1:\(redis.port)\"\ntimeout_ms = 30000\nmax_pending_votes = 8\n"
        let f = try NativeFixture(config: config, redis: redis)
        let poll = try f.create()
        func vote(_ voter: String) -> String {
            RawClient.requestText("POST", "/v1/polls/\(poll)/votes", headers: ["X-Voter-Id": voter], body: #"{"choices":[1]}"#)
        }
        redis.pause()
        defer { redis.resume() }

        // 20 voters, a connection each: 8 wait for Redis, 12 are refused.
        let voters = try (0..<20).map { (id: "held-\($0)", client: try f.daemon.client()) }
        for voter in voters { voter.client.send(vote(voter.id)) }
        let firstAnswers = voters.map { $0.client.response(timeout: 0.2) }
        let refused = firstAnswers.compactMap { $0 }
        #expect(refused.count == 12, "\(refused.map(\.status))")
        #expect(refused.allSatisfy { $0.status == 503 && $0.headers["retry-after"] != nil })

        // Many more, pipelined 200 at a time: every one refused, and the daemon does not grow.
        let flood = try f.daemon.client()
        func refusedOf(_ flooders: Range<Int>) -> Int {
            stride(from: flooders.lowerBound, to: flooders.upperBound, by: 200).reduce(0) { refused, first in
                flood.send((first..<first + 200).map { vote("flood-\($0)") }.joined())
                return refused + flood.responses(200).filter { $0.status == 503 }.count
            }
        }
        #expect(refusedOf(0..<2_000) == 2_000)  // its buffers grow to their working size
        let before = f.daemon.residentKilobytes
        #expect(refusedOf(2_000..<42_000) == 40_000)
        let growth = f.daemon.residentKilobytes - before
        #expect(growth < 1_024, "resident memory grew \(growth) kB over 40 000 refused votes")

        redis.resume()
        let held = voters.indices.filter { firstAnswers[$0] == nil }.map { voters[$0] }
        for voter in held { #expect(voter.client.response(timeout: 10)?.status == 200, "\(voter.id)") }
        #expect(Set(try WriteThroughTests.storedBallots(redis, poll).keys) == Set(held.map(\.id)), "stored: the held votes only")
    }

    @Test func votesMeetingAFlushedScriptAreSentAgainWithItsSourceNot503() throws {
        let redis = try RedisServer()
        let f = try NativeFixture(config: WriteThroughTests.config, redis: redis)
        let poll = try f.create()
        let flushing = DispatchGroup()
        let voted = SharedState()
        _ = try redis.cli(["SCRIPT", "FLUSH"])  // the first votes meet it flushed, however fast they go
        DispatchQueue.global().async(group: flushing) {
            // Until the votes are in, however long the machine makes them take.
            while !voted.isSet {
                _ = try? redis.cli(["SCRIPT", "FLUSH"])
                usleep(10_000)
            }
        }
        let sent = WriteThroughTests.voteUntil(port: f.daemon.port, poll: poll, prefix: "flush", perThread: 300) { false }
        voted.set()
        flushing.wait()
        #expect(sent.count == 1_200 && sent.allSatisfy { $0.status == 200 }, "\(Set(sent.map(\.status)))")
        try WriteThroughTests.expectConsistent(redis, poll, sent)
        let stats = try redis.cli(["INFO", "errorstats"]) + redis.cli(["INFO", "commandstats"])
        #expect(stats.contains("errorstat_NOSCRIPT:count="), "the script was really flushed under the votes")
        #expect(stats.contains("cmdstat_eval:calls="), "and the votes went again with its source")
    }

    @Test func resultsOnEachDaemonIncludeTheVotesStoredThroughTheOthers() throws {
        let redis = try RedisServer()
        let config = WriteThroughTests.config.replacingOccurrences(of: "loops = 2", with: "loops = 1")
        let first = try NativeFixture(config: config, redis: redis)
        let second = try NativeFixture(config: config, redis: redis)
        let poll = try first.create()
        let deadline = Date().addingTimeInterval(5)
        while second.client.request("GET", "/v1/polls/\(poll)")?.status != 200 && Date() < deadline { usleep(10_000) }
        for n in 0..<5 { #expect(first.vote(poll, "first-\(n)", #"{"choices":[0]}"#).status == 200) }
        #expect(NativeFixture.votes(first.results(poll)) == [5, 0, 0, 0])

        // A vote through the second daemon brings back Redis' tallies: its results have all six at once.
        #expect(second.vote(poll, "second-0", #"{"choices":[1]}"#).status == 200)
        #expect(NativeFixture.votes(second.results(poll)) == [5, 1, 0, 0])

        // The first daemon took no vote since, and its poll is being viewed: the follower reads it back.
        let caughtUp = Date().addingTimeInterval(3)
        while NativeFixture.votes(first.results(poll)) != [5, 1, 0, 0] && Date() < caughtUp { usleep(50_000) }
        #expect(NativeFixture.votes(first.results(poll)) == [5, 1, 0, 0])
    }

    @Test func aVoterSeesTheirBallotOnADaemonTheyDidNotVoteThrough() throws {
        let redis = try RedisServer()
        let first = try NativeFixture(config: WriteThroughTests.config, redis: redis)
        let second = try NativeFixture(config: WriteThroughTests.config, redis: redis)
        let third = try NativeFixture(config: WriteThroughTests.config, redis: redis)
        let poll = try first.create(#""visibility":"afterVote""#)
        for other in [second, third] {
            let deadline = Date().addingTimeInterval(5)
            while other.client.request("GET", "/v1/polls/\(poll)")?.status != 200 && Date() < deadline { usleep(10_000) }
        }
        #expect(first.vote(poll, "ann", #"{"choices":[2]}"#).status == 200)

        // The second daemon asks Redis for ann's ballot: her results are visible, her choice shown.
        let seen = second.results(poll, as: "ann")
        #expect(seen.json?["resultsVisible"] as? Bool == true && NativeFixture.votes(seen) == [0, 0, 1, 0], "\(seen)")
        #expect(seen.json?["ownChoices"] as? [Int] == [2])
        let stranger = second.results(poll, as: "dan")
        #expect(stranger.json?["resultsVisible"] as? Bool == false && stranger.json?["ownChoices"] as? [Int] == [])
        // Her results stream on a third daemon, which has never seen her either, shows them too.
        let screen = try third.daemon.client()
        screen.send("GET /v1/polls/\(poll)/results/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(NativeFixture.voterToken("ann"))\r\n\r\n")
        let frame = ResultsStreamTests().frames("results", in: screen.receiveAll(timeout: 0.8)).first
        #expect(frame?["resultsVisible"] as? Bool == true && frame?["ownChoices"] as? [Int] == [2], "\(String(describing: frame))")
        // Now the second knows her: a second vote is refused without a trip to Redis, as on the first.
        let again = second.vote(poll, "ann", #"{"choices":[1]}"#)
        #expect(again.status == 409 && again.json?["code"] as? String == "already_voted", "\(again)")
    }

    @Test func threeDaemonsSharingRedisNeverCountAVoterTwice() throws {
        let redis = try RedisServer()
        let config = WriteThroughTests.config.replacingOccurrences(of: "loops = 2", with: "loops = 1")
        let daemons = try (0..<3).map { _ in try NativeFixture(config: config, redis: redis) }
        let poll = try daemons[0].create()
        // The others learn of the poll from Redis.
        for other in daemons.dropFirst() {
            let deadline = Date().addingTimeInterval(5)
            while other.client.request("GET", "/v1/polls/\(poll)")?.status != 200 && Date() < deadline { usleep(10_000) }
        }
        let voters = (0..<300).map { "fan-\($0)" }
        let answers = Mutex<[String: [(choice: Int, status: Int?)]]>([:])
        // Every voter votes through all three daemons at once, a different option through each.
        DispatchQueue.concurrentPerform(iterations: 3) { index in
            guard let client = try? daemons[index].daemon.client() else { return }
            for voter in voters {
                let status = client.request(
                    "POST", "/v1/polls/\(poll)/votes", headers: ["X-Voter-Id": voter], body: #"{"choices":[\#(index)]}"#)?.status
                answers.withLock { $0[voter, default: []].append((index, status)) }
            }
        }
        let ballots = try WriteThroughTests.storedBallots(redis, poll)
        let counts = try WriteThroughTests.storedCounts(redis, poll)
        #expect(ballots.count == voters.count)
        #expect(counts["voters"] == voters.count && (0..<4).reduce(0) { $0 + (counts["\($1)"] ?? 0) } == voters.count)
        // Every daemon's results come to Redis' counts (each saw the others' votes with its own
        // batches, and the follower reads the rest back).
        let stored = (0..<4).map { counts["\($0)"] ?? 0 }
        for daemon in daemons {
            let deadline = Date().addingTimeInterval(3)
            while NativeFixture.votes(daemon.results(poll)) != stored && Date() < deadline { usleep(50_000) }
            #expect(NativeFixture.votes(daemon.results(poll)) == stored)
        }
        for (voter, tries) in answers.withLock({ $0 }) {
            let accepted = tries.filter { $0.status == 200 }
            #expect(accepted.count == 1, "\(voter): \(tries)")
            #expect(accepted.first.map { WriteThroughTests.hex($0.choice) } == ballots[voter])
            #expect(tries.allSatisfy { $0.status == 200 || $0.status == 409 })
        }
    }
}
