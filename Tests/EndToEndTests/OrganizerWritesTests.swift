import Foundation
import TallyTestSupport
import Testing

/// Organizer writes are judged in Redis: a change saves only if the poll is still at the version
/// it was made from (its revision and state), so one made on a stale view, another organizer's
/// edit through another daemon or a close at the end date, is refused and never undoes the newer
/// one. `ETag` and `If-Match` carry that version for clients.
@Suite struct OrganizerWritesTests {
    static let config = NativeFixture.config.replacingOccurrences(of: "loops = 2", with: "loops = 1")

    private func storedState(_ redis: RedisServer, _ poll: String) throws -> (state: String, revision: String, question: String) {
        let state = try redis.cli(["HGET", "{p:\(poll)}:poll", "state"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let revision = try redis.cli(["HGET", "{p:\(poll)}:poll", "revision"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let json = try redis.cli(["HGET", "{p:\(poll)}:def", "definition"])
        let question = (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["question"] as? String ?? ""
        return (state, revision, question)
    }

    /// What another daemon's close worker does at the end date: the close script flips the state
    /// in Redis (and tells nobody: each daemon closes at the end date itself). A PATCH through a
    /// daemon that has not closed it yet used to write `open` back.
    @Test func aPatchAfterAnotherDaemonClosedThePollIsRefusedAndLeavesItClosed() throws {
        let redis = try RedisServer()
        let f = try NativeFixture(config: Self.config, redis: redis)
        let poll = try f.create()
        _ = try redis.cli(["HSET", "{p:\(poll)}:poll", "state", "closed"])
        let patched = f.asOrganizer("PATCH", "/v1/polls/\(poll)", #"{"question":"Still?"}"#)
        #expect(patched.status == 409 && patched.json?["code"] as? String == "conflict", "\(patched)")
        let stored = try storedState(redis, poll)
        #expect(stored.state == "closed" && stored.question == "Best act?")
        let closed = f.asOrganizer("POST", "/v1/polls/\(poll)/close")
        #expect(closed.status == 409, "\(closed)")
    }

    @Test func everyWriteGetsTheNextRevisionAndItsETag() throws {
        let redis = try RedisServer()
        let f = try NativeFixture(config: Self.config, redis: redis)
        let created = f.asOrganizer("POST", "/v1/polls", #"{"question":"Q?","options":["a","b"],"draft":true}"#)
        let poll = try #require(created.json?["id"] as? String)
        #expect(created.headers["etag"] == "\"1-draft\"")
        #expect(f.asOrganizer("GET", "/v1/polls/\(poll)").headers["etag"] == "\"1-draft\"")
        #expect(f.asOrganizer("POST", "/v1/polls/\(poll)/open").headers["etag"] == "\"2-open\"")
        #expect(f.asOrganizer("PATCH", "/v1/polls/\(poll)", #"{"question":"Q2?"}"#).headers["etag"] == "\"3-open\"")
        #expect(try storedState(redis, poll).revision == "3")
        // If-Match on a lifecycle move too (README): an older version is refused, the current one goes.
        func close(ifMatch: String) -> HTTPResponse {
            f.client.request("POST", "/v1/polls/\(poll)/close", headers: ["Authorization": "Bearer \(NativeFixture.organizer)", "If-Match": ifMatch])!
        }
        #expect(close(ifMatch: "\"2-open\"").status == 412)
        #expect(close(ifMatch: "\"3-open\"").headers["etag"] == "\"4-closed\"")
    }

    /// Two organizers edit one poll through two daemons, each from the version it read: the
    /// second is refused (412) instead of overwriting the first, and may try again from the new one.
    @Test func twoOrganizersEditingThroughTwoDaemonsNeverLoseAnUpdate() throws {
        let redis = try RedisServer()
        let first = try NativeFixture(config: Self.config, redis: redis)
        let second = try NativeFixture(config: Self.config, redis: redis)
        let poll = try first.create()
        var read: HTTPResponse?
        for _ in 0..<100 where read?.status != 200 {  // the second daemon learns of it through Redis
            read = second.asOrganizer("GET", "/v1/polls/\(poll)")
            usleep(10_000)
        }
        let etag = try #require(read?.headers["etag"])
        func patch(_ fixture: NativeFixture, _ body: String, ifMatch: String) -> HTTPResponse {
            fixture.client.request(
                "PATCH", "/v1/polls/\(poll)", headers: ["Authorization": "Bearer \(NativeFixture.organizer)", "If-Match": ifMatch], body: body)!
        }
        let one = patch(first, #"{"question":"From one?"}"#, ifMatch: etag)
        #expect(one.status == 200 && one.headers["etag"] != etag, "\(one)")
        let two = patch(second, #"{"description":"from two"}"#, ifMatch: etag)
        #expect(two.status == 412 && two.json?["code"] as? String == "precondition_failed", "\(two)")
        #expect(try storedState(redis, poll).question == "From one?")
        // Read again (once the second daemon has the new version) and the change goes in on top.
        var fresh = second.asOrganizer("GET", "/v1/polls/\(poll)")
        for _ in 0..<100 where fresh.headers["etag"] != one.headers["etag"] {
            usleep(10_000)
            fresh = second.asOrganizer("GET", "/v1/polls/\(poll)")
        }
        let again = patch(second, #"{"description":"from two"}"#, ifMatch: try #require(fresh.headers["etag"]))
        #expect(again.status == 200 && again.json?["question"] as? String == "From one?" && again.json?["description"] as? String == "from two")
        #expect(patch(first, #"{"question":"x"}"#, ifMatch: "garbage").status == 412)
    }

    /// The list comes a page at a time, by id, matching its filters on every page.
    @Test func listsComeInPagesFollowedByTheirCursor() throws {
        let f = try NativeFixture(config: Self.config)
        var shown: [String] = []
        for n in 0..<7 { let id = try f.create(#""labels":{"show":"\#(n % 2 == 0 ? "a" : "b")"}"#); if n % 2 == 0 { shown.append(id) } }
        var listed: [String] = []
        var cursor = ""
        var pages = 0
        repeat {
            let page = f.asOrganizer("GET", "/v1/polls?label.show=a&limit=3\(cursor.isEmpty ? "" : "&cursor=\(cursor)")")
            listed += (page.json?["polls"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
            cursor = page.json?["next"] as? String ?? ""
            pages += 1
        } while !cursor.isEmpty && pages < 5
        #expect(listed == shown && pages == 2)
        #expect((f.asOrganizer("GET", "/v1/polls").json?["polls"] as? [Any])?.count == 7)
        for bad in ["limit=0", "limit=1001", "limit=x", "cursor=-1"] { #expect(f.asOrganizer("GET", "/v1/polls?\(bad)").status == 400, "\(bad)") }
    }

    /// Without If-Match, a daemon whose copy is behind Redis (another daemon's save it has not
    /// heard of yet) is refused too: the change was made from its stale copy.
    @Test func aChangeFromAStaleCopyIsRefused() throws {
        let redis = try RedisServer()
        let f = try NativeFixture(config: Self.config, redis: redis)
        let poll = try f.create()
        _ = try redis.cli(["HINCRBY", "{p:\(poll)}:poll", "revision", "1"])  // another daemon's save, not yet heard of
        let patched = f.asOrganizer("PATCH", "/v1/polls/\(poll)", #"{"question":"Mine?"}"#)
        #expect(patched.status == 409, "\(patched)")
        #expect(try storedState(redis, poll).question == "Best act?")
    }
}
