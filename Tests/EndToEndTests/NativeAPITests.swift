import Foundation
import TallyAPI
import TallyBase
import TallyHTTP
import TallyTestSupport
import Testing

/// A running tallyd with one organizer token and a known voter secret, and helpers to call it.
final class NativeFixture: @unchecked Sendable {
    static let organizer = "organizer-token-for-tests-0001"
    static let secret = Array("voter-secret-for-tests-000001".utf8)
    static let config = """
        [server]
        loops = 2

        [auth]
        organizer_tokens = ["\(organizer)"]
        voter_secret = "\(String(decoding: secret, as: UTF8.self))"
        trusted_proxies = ["127.0.0.1"]
        """

    let daemon: Daemon
    let client: RawClient

    init(config: String = NativeFixture.config, redis: RedisServer? = nil) throws {
        daemon = try Daemon(config: config, redis: redis)
        client = try daemon.client()
    }

    static func voterToken(_ voter: String, expiresIn seconds: Int64 = 3600) -> String {
        VoterTokens(secret: secret).mint(voter: voter, expiresAt: Int64(Date().timeIntervalSince1970) + seconds)
    }

    func asOrganizer(_ method: String, _ path: String, _ body: String? = nil) -> HTTPResponse {
        client.request(method, path, headers: ["Authorization": "Bearer \(NativeFixture.organizer)"], body: body)!
    }

    /// Creates a poll from a JSON fragment of fields; returns its id.
    func create(_ fields: String = "") throws -> String {
        let extra = fields.isEmpty ? "" : ", " + fields
        let response = asOrganizer("POST", "/v1/polls", #"{"question":"Best act?","options":["a","b","c","d"]\#(extra)}"#)
        try #require(response.status == 201, "\(response)")
        return try #require(response.json?["id"] as? String)
    }

    func vote(_ poll: String, _ voter: String, _ body: String, query: String = "") -> HTTPResponse {
        client.request(
            "POST", "/v1/polls/\(poll)/votes\(query)", headers: ["Authorization": "Bearer \(NativeFixture.voterToken(voter))"], body: body)!
    }

    func results(_ poll: String, as voter: String? = nil) -> HTTPResponse {
        let headers = voter.map { ["Authorization": "Bearer \(NativeFixture.voterToken($0))"] } ?? [:]
        return client.request("GET", "/v1/polls/\(poll)/results", headers: headers)!
    }

    /// A line of `/metrics` ("name{labels}") and its value.
    func metric(_ line: String) -> Int? {
        let text = client.request("GET", "/metrics")!.text
        return text.split(separator: "\n").first { $0.hasPrefix(line + " ") }.flatMap { Int($0.split(separator: " ").last!) }
    }

    static func votes(_ response: HTTPResponse) -> [Int?] {
        ((response.json?["options"] as? [[String: Any]]) ?? []).map { $0["votes"] as? Int }
    }
}

@Suite(.serialized) struct NativeAPITests {
    @Test func pollLifecycleFromCreateToDelete() throws {
        let f = try NativeFixture()
        let id = try f.create(#""maxVotes":2,"labels":{"show":"finale"}"#)

        let vote = f.vote(id, "ann", #"{"choices":[0,3]}"#)
        #expect(vote.status == 200)
        #expect(vote.json?["choices"] as? [Int] == [0, 3] && vote.json?["changed"] as? Bool == true)
        #expect(f.vote(id, "ann", #"{"choices":[3,0]}"#).json?["changed"] as? Bool == false, "identical ballot: idempotent")
        _ = f.vote(id, "bob", #"{"choices":[3]}"#)
        let results = f.results(id, as: "ann")
        #expect(NativeFixture.votes(results) == [1, 0, 0, 2])
        #expect(results.json?["ownChoices"] as? [Int] == [0, 3] && results.json?["voters"] as? Int == 2)

        let poll = f.client.request("GET", "/v1/polls/\(id)")!
        #expect(poll.json?["question"] as? String == "Best act?" && poll.json?["state"] as? String == "open")
        #expect((poll.json?["labels"] as? [String: String]) == ["show": "finale"])

        let listed = f.asOrganizer("GET", "/v1/polls?state=open&label.show=finale")
        #expect((listed.json?["polls"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])
        #expect((f.asOrganizer("GET", "/v1/polls?label.show=other").json?["polls"] as? [Any])?.isEmpty == true)

        let patched = f.asOrganizer("PATCH", "/v1/polls/\(id)", #"{"question":"Best act tonight?","revote":true}"#)
        #expect(patched.status == 200 && patched.json?["question"] as? String == "Best act tonight?")
        #expect(f.vote(id, "ann", #"{"choices":[1]}"#).status == 200, "revote now allowed")
        #expect(f.asOrganizer("PATCH", "/v1/polls/\(id)", #"{"options":["x"]}"#).status == 400)

        #expect(f.asOrganizer("POST", "/v1/polls/\(id)/close").json?["state"] as? String == "closed")
        #expect(f.asOrganizer("POST", "/v1/polls/\(id)/close").status == 409)
        #expect(f.vote(id, "cat", #"{"choices":[1]}"#).json?["code"] as? String == "poll_closed")
        #expect(f.asOrganizer("POST", "/v1/polls/\(id)/reopen", #"{"closesAt":"2099-01-01T00:00:00Z"}"#).json?["state"] as? String == "open")
        #expect(f.vote(id, "cat", #"{"choices":[1]}"#).status == 200)

        // Found by schemathesis: a year-800 end date crashed the daemon when the poll was rendered.
        #expect(f.asOrganizer("PATCH", "/v1/polls/\(id)", #"{"closesAt":"0800-12-19T01:49:58Z"}"#).status == 400)
        #expect(f.asOrganizer("POST", "/v1/polls/\(id)/reopen", #"{"closesAt":"0800-12-19T01:49:58Z"}"#).status == 400)
        #expect(f.client.request("GET", "/v1/polls/\(id)")?.status == 200)

        #expect(f.asOrganizer("DELETE", "/v1/polls/\(id)").status == 204)
        #expect(f.client.request("GET", "/v1/polls/\(id)")?.status == 404)
    }

    @Test func everyRejectionHasItsStatusAndCode() throws {
        let f = try NativeFixture()
        let single = try f.create()
        let draft = try f.create(#""draft":true"#)
        let closing = try f.create(#""closesAt":"\#(Timestamps.format(Int64(Date().timeIntervalSince1970 * 1_000_000) + 400_000))""#)
        _ = f.vote(single, "ann", #"{"choices":[0]}"#)
        let cases: [(poll: String, body: String, status: Int, code: String)] = [
            ("999", #"{"choices":[0]}"#, 404, "poll_not_found"),
            ("not-a-number", #"{"choices":[0]}"#, 404, "poll_not_found"),
            (draft, #"{"choices":[0]}"#, 409, "poll_not_open"),
            (single, #"{"choices":[9]}"#, 422, "option_out_of_range"),
            (single, #"{"choices":[-1]}"#, 422, "option_out_of_range"),
            (single, #"{"choices":[1,1]}"#, 422, "duplicate_option"),
            (single, #"{"choices":[1,2]}"#, 422, "too_many_options"),
            (single, #"{"choices":[]}"#, 422, "empty_ballot"),
            (single, #"{"choices":[1]}"#, 409, "already_voted"),
            (single, #"{"choice":[1]}"#, 400, "invalid_body"),
            (single, #"{"choices":[1.5]}"#, 400, "invalid_body"),
            (single, "not json", 400, "invalid_body"),
        ]
        for (poll, body, status, code) in cases {
            let voter = code == "already_voted" ? "ann" : "bob"
            let response = f.vote(poll, voter, body)
            #expect(response.status == status && response.json?["code"] as? String == code, "\(body) on \(poll): \(response)")
        }
        usleep(500_000)
        let expired = f.vote(closing, "bob", #"{"choices":[0]}"#)
        #expect(expired.status == 409 && expired.json?["code"] as? String == "poll_expired")
    }

    @Test func privatePollNeedsItsTokenToVoteOrLook() throws {
        let f = try NativeFixture()
        let created = f.asOrganizer("POST", "/v1/polls", #"{"question":"Q","options":["a","b"],"private":true}"#)
        let id = try #require(created.json?["id"] as? String)
        let token = try #require(created.json?["token"] as? String)
        #expect(f.vote(id, "ann", #"{"choices":[0]}"#).json?["code"] as? String == "poll_token_required")
        #expect(f.vote(id, "ann", #"{"choices":[0],"token":"00000000000000000000000000000001"}"#).json?["code"] as? String == "poll_token_invalid")
        #expect(f.vote(id, "ann", #"{"choices":[0],"token":"\#(token)"}"#).status == 200)
        #expect(f.vote(id, "bob", #"{"choices":[1]}"#, query: "?token=\(token)").status == 200)
        #expect(f.client.request("GET", "/v1/polls/\(id)")?.status == 403)
        let seen = f.client.request("GET", "/v1/polls/\(id)?token=\(token)")!
        #expect(seen.status == 200 && seen.json?["token"] == nil, "only organizers see the token")
    }

    @Test func visibilityAndHiddenCountsAreEnforced() throws {
        let f = try NativeFixture()
        let afterVote = try f.create(#""visibility":"afterVote""#)
        _ = f.vote(afterVote, "ann", #"{"choices":[2]}"#)
        let stranger = f.results(afterVote, as: "dan")
        #expect(stranger.json?["resultsVisible"] as? Bool == false && NativeFixture.votes(stranger) == [nil, nil, nil, nil])
        #expect(NativeFixture.votes(f.results(afterVote, as: "ann")) == [0, 0, 1, 0])
        #expect(NativeFixture.votes(f.asOrganizer("GET", "/v1/polls/\(afterVote)/results")) == [0, 0, 1, 0])

        let percentOnly = try f.create(#""hideCounts":true"#)
        _ = f.vote(percentOnly, "ann", #"{"choices":[0]}"#)
        let seen = f.results(percentOnly, as: "ann")
        #expect(NativeFixture.votes(seen) == [nil, nil, nil, nil] && seen.json?["voters"] is NSNull)
        #expect(((seen.json?["options"] as? [[String: Any]])?.first?["percent"] as? Int) == 100)
    }

    @Test func createIsValidatedFieldByField() throws {
        let f = try NativeFixture()
        let bad: [(String, String)] = [
            (#"{"options":["a"]}"#, "'question' is required"),
            (#"{"question":"Q","options":[]}"#, "at least one option"),
            (#"{"question":"Q","options":["a"],"maxVotes":2}"#, "maxVotes"),
            (#"{"question":"Q","options":["a"],"maxVotes":true}"#, "'maxVotes' must be a whole number"),
            (#"{"question":"Q","options":["a"],"visibility":"sometimes"}"#, "'visibility' must be one of"),
            (#"{"question":"Q","options":["a"],"closesAt":"yesterday"}"#, "'closesAt' must be an RFC 3339"),
            (#"{"question":"Q","options":["a"],"closesAt":"2001-01-01T00:00:00Z"}"#, "in the future"),
            (#"{"question":"Q","options":["a"],"closesAt":"0800-12-19T01:49:58.142417-13:20"}"#, "from 1970 to 9999"),
            (#"{"question":"Q","options":["a"],"closesAt":"10000-01-01T00:00:00Z"}"#, "from 1970 to 9999"),
            (#"{"question":"Q","options":["a"],"closesAt":"2099-02-30T00:00:00Z"}"#, "'closesAt' must be an RFC 3339"),
            (#"{"question":"Q","options":["a"],"closesAt":"2099-01-01T00:00:00+25:00"}"#, "'closesAt' must be an RFC 3339"),
            (#"{"question":"Q","options":["a"],"colour":"red"}"#, "unknown field 'colour'"),
            ("[1,2]", "must be a JSON object"),
        ]
        for (body, message) in bad {
            let response = f.asOrganizer("POST", "/v1/polls", body)
            #expect(response.status == 400 && (response.json?["error"] as? String ?? "").contains(message), "\(body): \(response)")
        }
    }

    @Test func metricsCountVotesByOutcome() throws {
        let f = try NativeFixture()
        let id = try f.create()
        _ = f.vote(id, "ann", #"{"choices":[0]}"#)
        _ = f.vote(id, "ann", #"{"choices":[1]}"#)
        let metrics = f.client.request("GET", "/metrics")!
        #expect(metrics.status == 200 && metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        #expect(metrics.text.contains(#"tally_votes_total{outcome="accepted",dialect="native"} 1"#))
        #expect(metrics.text.contains(#"tally_votes_rejected_total{reason="alreadyVoted",dialect="native"} 1"#))
        #expect(metrics.text.contains(#"tally_polls{state="open"} 1"#))
        // Each histogram is cumulative up to +Inf, which counts every observation. Three requests
        // were answered before this one; one vote went to Redis (the second was refused in memory).
        let lines = metrics.text.split(separator: "\n")
        func value(_ line: Substring) -> Int? { line.split(separator: " ").last.flatMap { Int($0) } }
        func sample(_ name: String) -> Int? { lines.first { $0.hasPrefix(name + " ") }.flatMap(value) }
        for (name, observations) in [("tally_http_request_duration_seconds", 3...Int.max), ("tally_redis_vote_call_duration_seconds", 1...1)] {
            let buckets = lines.filter { $0.hasPrefix(name + "_bucket") }.compactMap(value)
            #expect(buckets.count == LatencyHistogram.bucketBounds.count + 1 && buckets == buckets.sorted(), "\(name) \(buckets)")
            #expect(sample(name + "_count") == buckets.last && observations.contains(buckets.last ?? 0), "\(name) \(buckets)")
        }
        #expect(sample("tally_redis_vote_calls_total") == 1 && sample("tally_redis_votes_sent_total") == 1)
        #expect(f.client.request("GET", "/healthz")?.status == 200 && f.client.request("GET", "/readyz")?.status == 200)
    }

    @Test func pipelinedVotesAreAnsweredInOrder() throws {
        let f = try NativeFixture()
        let id = try f.create()
        let requests = (0..<50).map { voter -> String in
            let body = #"{"choices":[\#(voter % 4)]}"#
            return "POST /v1/polls/\(id)/votes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(NativeFixture.voterToken("v\(voter)"))\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        f.client.send(requests.joined())
        let responses = f.client.responses(50)
        #expect(responses.compactMap { ($0.json?["choices"] as? [Int])?.first } == (0..<50).map { $0 % 4 })
        #expect(NativeFixture.votes(f.asOrganizer("GET", "/v1/polls/\(id)/results")) == [13, 13, 12, 12])
    }
}

@Suite(.serialized) struct ResultsStreamTests {
    /// The `data:` JSON of every `event: NAME` frame in `text`.
    func frames(_ name: String, in text: String) -> [[String: Any]] {
        text.components(separatedBy: "event: \(name)\n").dropFirst().compactMap { frame in
            guard let line = frame.split(separator: "\n").first, line.hasPrefix("data: ") else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any]
        }
    }

    @Test func framesArriveWhenResultsChangeAndTheStreamEndsOnDelete() throws {
        let f = try NativeFixture()
        let id = try f.create()
        let screen = try f.daemon.client()
        screen.send("GET /v1/polls/\(id)/results/stream HTTP/1.1\r\nHost: t\r\n\r\n")
        let opening = screen.receiveAll(timeout: 0.8)
        #expect(opening.hasPrefix("HTTP/1.1 200 OK") && opening.contains("Content-Type: text/event-stream"))
        #expect(opening.contains("Transfer-Encoding: chunked"))
        #expect(frames("results", in: opening).count == 1, "one frame, then none while nothing changes")

        _ = f.vote(id, "ann", #"{"choices":[1]}"#)
        let afterVote = frames("results", in: screen.receiveAll(timeout: 0.6))
        #expect(afterVote.count == 1)
        #expect((afterVote.first?["options"] as? [[String: Any]])?.map { $0["votes"] as? Int } == [0, 1, 0, 0])

        #expect(f.asOrganizer("DELETE", "/v1/polls/\(id)").status == 204)
        let ending = screen.receiveAll(timeout: 1)
        #expect(frames("deleted", in: ending).first?["poll"] as? String == id)
        #expect(ending.hasSuffix("0\r\n\r\n"), "the chunked body ends properly")
        #expect(screen.isClosedByPeer(timeout: 1))
    }

    @Test func aPrivatePollsStreamNeedsItsToken() throws {
        let f = try NativeFixture()
        let created = f.asOrganizer("POST", "/v1/polls", #"{"question":"Q","options":["a","b"],"private":true}"#)
        let id = try #require(created.json?["id"] as? String)
        #expect(f.client.request("GET", "/v1/polls/\(id)/results/stream")?.status == 403)
    }
}
