import Foundation
import TallyAPI
import TallyTestSupport
import Testing

/// Polls finalized at their end dates by the close worker of real daemons sharing a real Redis.
@Suite(.serialized) struct CloseWorkerTests {
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }

    /// `"closesAt": …` for a JSON body, `milliseconds` from now.
    static func endingIn(_ milliseconds: Int64) -> String { #""closesAt":"\#(Timestamps.format(now() + milliseconds * 1_000))""# }

    /// The `closed` events in Redis, each as field → value.
    static func closedEvents(_ redis: RedisServer) throws -> [[String: String]] {
        let script = """
            local events = {}
            for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do events[#events + 1] = cjson.encode(entry[2]) end
            return events
            """
        let lines = try redis.cli(["EVAL", script, "1", "tally:closed"]).split(separator: "\n")
        return lines.map { line in
            let flat = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String] ?? []
            return Dictionary(uniqueKeysWithValues: stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) })
        }
    }

    /// Waits until `condition` holds, up to `seconds`.
    static func eventually(_ seconds: Double = 3, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(10_000)
        }
        return try condition()
    }

    static func state(_ f: NativeFixture, _ poll: String) -> String? {
        f.client.request("GET", "/v1/polls/\(poll)")?.json?["state"] as? String
    }

    @Test func aPollClosesOnItsEndDateWithOneEventAndFrozenResults() throws {
        let f = try NativeFixture()
        let redis = f.daemon.redis
        let closing = try f.create(CloseWorkerTests.endingIn(400))
        let showsEndDate = try f.create(CloseWorkerTests.endingIn(400) + #", "closesOnEnd":false"#)
        let endless = try f.create()
        for (n, voter) in ["ann", "bob", "cat"].enumerated() {
            #expect(f.vote(closing, voter, #"{"choices":[\#(n % 2)]}"#).status == 200)
            #expect(f.vote(showsEndDate, voter, #"{"choices":[0]}"#).status == 200)
        }
        #expect(CloseWorkerTests.state(f, closing) == "open")

        #expect(try CloseWorkerTests.eventually { try !CloseWorkerTests.closedEvents(redis).isEmpty })
        let events = try CloseWorkerTests.closedEvents(redis)
        try #require(events.count == 1, "\(events)")
        let event = events[0]
        #expect(event["poll"] == closing && event["voters"] == "3" && event["counts"] == "[2,1,0,0]")
        let closesAt = try #require(event["closesAt"].flatMap { Int64($0) })
        let closedAt = try #require(event["closedAt"].flatMap { Int64($0) })
        // On time: never before the end date; late by scheduling only (the benchmark measures it;
        // here a generous bound, as tests share the machine).
        #expect(closedAt >= closesAt && closedAt - closesAt < 500_000, "late by \(closedAt - closesAt) µs")
        let rules = try WriteThroughTests.storedHash(redis, "{p:\(closing)}:poll")
        #expect(rules["state"] == "closed" && rules["closesAt"] == "\(closesAt)" && rules["closedAt"] == "\(closedAt)")
        #expect(rules["finalVoters"] == "3" && rules["finalCounts"] == "[2,1,0,0]")

        #expect(CloseWorkerTests.state(f, closing) == "closed")
        let late = f.vote(closing, "dan", #"{"choices":[0]}"#)
        #expect(late.status == 409 && late.json?["code"] as? String == "poll_expired", "\(late)")
        #expect(NativeFixture.votes(f.results(closing)) == [2, 1, 0, 0])

        // An end date that does not close the poll, and no end date: both stay open.
        #expect(CloseWorkerTests.state(f, showsEndDate) == "open" && CloseWorkerTests.state(f, endless) == "open")
        #expect(f.vote(showsEndDate, "dan", #"{"choices":[1]}"#).status == 200)
        #expect(try CloseWorkerTests.closedEvents(redis).count == 1)
    }

    @Test func twoDaemonsFinalizeEachPollOnce() throws {
        let redis = try RedisServer()
        let first = try NativeFixture(redis: redis)
        let second = try NativeFixture(redis: redis)
        let polls = try (0..<20).map { n in try first.create(CloseWorkerTests.endingIn(300 + 15 * Int64(n))) }
        #expect(try CloseWorkerTests.eventually { try CloseWorkerTests.closedEvents(redis).count >= 20 })
        usleep(300_000)  // a second event, if any, would be in by now
        let events = try CloseWorkerTests.closedEvents(redis)
        #expect(events.compactMap { $0["poll"] }.sorted() == polls.sorted(), "one event per poll: \(events.count)")
        for poll in polls {
            #expect(CloseWorkerTests.state(first, poll) == "closed" && CloseWorkerTests.state(second, poll) == "closed")
        }
    }

    @Test func aPollThatEndedWhileNoDaemonRanIsFinalizedOnStart() throws {
        let redis = try RedisServer()
        let first = try NativeFixture(redis: redis)
        let poll = try first.create(CloseWorkerTests.endingIn(300))
        #expect(first.vote(poll, "ann", #"{"choices":[3]}"#).status == 200)
        first.daemon.kill()
        usleep(500_000)
        #expect(try CloseWorkerTests.closedEvents(redis).isEmpty)

        let started = Date()
        let second = try NativeFixture(redis: redis)
        #expect(try CloseWorkerTests.eventually { try CloseWorkerTests.closedEvents(redis).count == 1 })
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(try CloseWorkerTests.closedEvents(redis).first?["counts"] == "[0,0,0,1]")
        #expect(CloseWorkerTests.state(second, poll) == "closed")
    }

    @Test func movedDeletedClosedAndReopenedPollsAreRescheduled() throws {
        let f = try NativeFixture()
        let redis = f.daemon.redis
        let moved = try f.create(CloseWorkerTests.endingIn(300))
        let deleted = try f.create(CloseWorkerTests.endingIn(300))
        let closedByHand = try f.create(CloseWorkerTests.endingIn(300))
        let reopened = try f.create(CloseWorkerTests.endingIn(300))
        #expect(f.asOrganizer("PATCH", "/v1/polls/\(moved)", "{\(CloseWorkerTests.endingIn(1_200))}").status == 200)
        #expect(f.asOrganizer("DELETE", "/v1/polls/\(deleted)").status == 204)
        #expect(f.asOrganizer("POST", "/v1/polls/\(closedByHand)/close").status == 200)

        #expect(try CloseWorkerTests.eventually { try CloseWorkerTests.closedEvents(redis).count == 1 })
        #expect(try CloseWorkerTests.closedEvents(redis).map { $0["poll"] } == [reopened])
        #expect(CloseWorkerTests.state(f, moved) == "open", "its end date moved")
        let again = f.asOrganizer("POST", "/v1/polls/\(reopened)/reopen", "{\(CloseWorkerTests.endingIn(300))}")
        #expect(again.status == 200 && again.json?["state"] as? String == "open")

        #expect(try CloseWorkerTests.eventually { try CloseWorkerTests.closedEvents(redis).count == 3 })
        usleep(200_000)
        #expect(try CloseWorkerTests.closedEvents(redis).compactMap { $0["poll"] }.sorted() == [moved, reopened, reopened].sorted())
        #expect(CloseWorkerTests.state(f, moved) == "closed" && CloseWorkerTests.state(f, reopened) == "closed")
    }
}
