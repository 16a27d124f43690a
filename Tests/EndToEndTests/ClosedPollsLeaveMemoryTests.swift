import Foundation
import TallyTestSupport
import Testing

/// A closed poll nobody reads for `[server] keep_closed_s` leaves the daemon's memory; Redis keeps
/// it, and whatever asks for it loads it back on that request, so every answer stays what it was.
@Suite(.serialized) struct ClosedPollsLeaveMemoryTests {
    static let config = NativeFixture.config.replacingOccurrences(of: "[server]", with: "[server]\nkeep_closed_s = 1")

    /// Waits (up to 5 s) until the daemon has let go of `count` polls.
    private func waitUntilLetGo(_ f: NativeFixture, _ count: Int) -> Bool {
        for _ in 0..<100 {
            if f.metric("tally_polls_let_go") == count { return true }
            usleep(50_000)
        }
        return false
    }

    /// The answers a closed poll gives: the poll, its results for a voter and for anyone, a late
    /// vote, a listing by label, its results stream's first frame.
    private func answers(_ f: NativeFixture, _ poll: String) throws -> [String] {
        let screen = try f.daemon.client()
        screen.send("GET /v1/polls/\(poll)/results/stream HTTP/1.1\r\nHost: t\r\n\r\n")
        let stream = screen.receiveAll(timeout: 0.5)
        let frame = stream.components(separatedBy: "event: results\n").dropFirst().first?.split(separator: "\n").first.map(String.init) ?? "no frame"
        let listed = f.asOrganizer("GET", "/v1/polls?label.show=finale")
        return [
            "\(f.client.request("GET", "/v1/polls/\(poll)")!.status) " + f.client.request("GET", "/v1/polls/\(poll)")!.text,
            "\(f.results(poll, as: "ann").status) " + f.results(poll, as: "ann").text,
            "\(f.results(poll).status) " + f.results(poll).text,
            "\(f.vote(poll, "carl", #"{"choices":[2]}"#).status) " + f.vote(poll, "carl", #"{"choices":[2]}"#).text,
            "\(listed.status) " + listed.text,
            frame,
        ]
    }

    @Test func aDroppedPollAnswersAsBeforeOnThisDaemonAndAnother() throws {
        let redis = try RedisServer()
        let f = try NativeFixture(config: Self.config, redis: redis)
        let poll = try f.create(#""labels":{"show":"finale"},"maxVotes":2"#)
        let open = try f.create(#""labels":{"show":"finale"}"#)
        #expect(f.vote(poll, "ann", #"{"choices":[0,1]}"#).status == 200)
        #expect(f.vote(poll, "bob", #"{"choices":[1]}"#).status == 200)
        #expect(f.asOrganizer("POST", "/v1/polls/\(poll)/close").status == 200)
        let before = try answers(f, poll)
        #expect(before[1].contains(#""ownChoices":[0,1]"#), "\(before[1])")
        #expect(before[3].hasPrefix("409"), "a late vote is refused: \(before[3])")

        #expect(waitUntilLetGo(f, 1), "the closed poll leaves memory once unread for 1 s")
        #expect(f.metric(#"tally_polls{state="closed"}"#) == 0 && f.metric(#"tally_polls{state="open"}"#) == 1)
        #expect(try answers(f, poll) == before, "loaded back on request, it answers the same")
        #expect(f.metric("tally_polls_let_go") == 0, "and is held again a while")

        // A daemon started now leaves it in Redis, and answers the same.
        let other = try NativeFixture(config: Self.config, redis: redis)
        #expect(other.metric("tally_polls_let_go") == 1)
        #expect(try answers(other, poll) == before)
        // The open poll was never let go of, and takes votes on both.
        #expect(other.vote(open, "ann", #"{"choices":[0]}"#).status == 200)
        #expect(f.vote(open, "bob", #"{"choices":[0]}"#).status == 200)
        #expect(f.metric("tally_polls_let_go") == 0 || f.metric("tally_polls_let_go") == 1)
    }

    /// Pipelined requests stay in order when the first waits for its poll to be loaded.
    @Test func pipelinedRequestsBehindALoadAreAnsweredInOrder() throws {
        let redis = try RedisServer()
        let f = try NativeFixture(config: Self.config, redis: redis)
        let closed = try f.create(#""labels":{"show":"finale"}"#)
        let open = try f.create()
        #expect(f.asOrganizer("POST", "/v1/polls/\(closed)/close").status == 200)
        #expect(waitUntilLetGo(f, 1))
        let client = try f.daemon.client()
        client.send(
            "GET /v1/polls/\(closed) HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/polls/\(open) HTTP/1.1\r\nHost: t\r\n\r\n"
                + "GET /v1/polls/424242 HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/polls/\(closed)/results HTTP/1.1\r\nHost: t\r\n\r\n")
        let answers = client.responses(4)
        try #require(answers.count == 4, "\(answers)")
        #expect(answers.map(\.status) == [200, 200, 404, 200])
        #expect(answers[0].json?["id"] as? String == closed && answers[1].json?["id"] as? String == open)
        #expect(answers[3].json?["poll"] as? String == closed)
    }

    /// A poll Redis has that a daemon has not heard of (created through another daemon a moment
    /// before its change message arrives: here, copied in Redis without one) is found on request.
    @Test func aPollOnlyRedisKnowsIsLoadedOnItsFirstRequest() throws {
        let redis = try RedisServer()
        let f = try NativeFixture(config: Self.config, redis: redis)
        let poll = try f.create()
        let unheard = "9999"
        for suffix in ["poll", "def"] { _ = try redis.cli(["COPY", "{p:\(poll)}:\(suffix)", "{p:\(unheard)}:\(suffix)"]) }
        _ = try redis.cli(["SADD", "tally:polls", unheard])
        let vote = f.vote(unheard, "ann", #"{"choices":[3]}"#)
        #expect(vote.status == 200, "\(vote)")
        #expect(NativeFixture.votes(f.results(unheard)) == [0, 0, 0, 1])
        #expect(f.vote("9998", "ann", #"{"choices":[3]}"#).status == 404, "Redis has no 9998 either")
        #expect(f.client.request("GET", "/v1/polls/9998")!.status == 404)
    }

    /// A start loads only the polls that are not closed. A closed poll saved before label
    /// signatures were stored is loaded once and given its signature, and left in Redis after.
    @Test func aStartLeavesClosedPollsInRedis() throws {
        let redis = try RedisServer()
        var f = try NativeFixture(config: Self.config, redis: redis)
        let closed = try f.create(#""labels":{"show":"finale"}"#)
        let open = try f.create()
        #expect(f.vote(closed, "ann", #"{"choices":[1]}"#).status == 200)
        #expect(f.asOrganizer("POST", "/v1/polls/\(closed)/close").status == 200)
        let results = f.results(closed).text
        _ = try redis.cli(["HDEL", "{p:\(closed)}:poll", "labels"])  // as saved by an older tallyd
        #expect(f.daemon.stop().status == 0)
        f = try NativeFixture(config: Self.config, redis: redis)
        #expect(try redis.cli(["HEXISTS", "{p:\(closed)}:poll", "labels"]) == "1", "signed as it was loaded")
        let first = f.daemon.stop()
        #expect(first.log.contains("loaded 2 poll(s) and 1 ballot(s)") && first.log.contains("(0 closed poll(s) left there"), "\(first.log)")
        f = try NativeFixture(config: Self.config, redis: redis)
        #expect(f.metric("tally_polls_let_go") == 1 && f.metric(#"tally_polls{state="open"}"#) == 1)
        #expect(f.results(closed).text == results)
        #expect((f.asOrganizer("GET", "/v1/polls?label.show=finale").json?["polls"] as? [[String: Any]])?.count == 1)
        #expect(f.vote(open, "ann", #"{"choices":[0]}"#).status == 200)
        #expect(f.daemon.stop().log.contains("loaded 1 poll(s) and 0 ballot(s)"))
    }
}
