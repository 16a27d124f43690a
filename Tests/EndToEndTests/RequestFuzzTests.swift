import Foundation
import TallyTestSupport
import Testing

/// Requests with random edits, against the real daemon: every request is answered with a status
/// the README documents and the daemon stays up; for votes, each poll counts exactly the votes it
/// acknowledged (an edit may turn a request into another voter's or another poll's valid vote).
@Suite struct RequestFuzzTests {
    static let config = NativeFixture.config.replacingOccurrences(
        of: "[server]\n", with: "[server]\nheader_timeout_ms = 300\nbody_timeout_ms = 300\n")
    /// Bytes that matter to an HTTP request's parsing and routing.
    static let significant = Array("\r\n :/?=&.%-_\"{}[],0123456789".utf8) + [0x00, 0x7F, 0x80, 0xFF]
    static let documented: Set<Int> = [200, 400, 401, 403, 404, 405, 408, 409, 413, 422, 431, 501]

    @Test func editedVoteRequestsAreAnsweredAndOnlyAcknowledgedVotesCount() throws {
        let fixture = try NativeFixture(config: Self.config)
        let open = try fixture.create(#""maxVotes":1"#)
        let closedToOthers = try fixture.create(#""maxVotes":1,"private":true"#)
        let token = try #require(fixture.asOrganizer("GET", "/v1/polls/\(closedToOthers)").json?["token"] as? String)
        let responses = try Self.sendEdited(rounds: 16, seed: 5, to: fixture, answers: Self.documented) { random in
            Self.request(poll: open, privateTo: (closedToOthers, token), &random)
        }
        var acknowledged: [String: Int] = [:]
        for response in responses where response.status == 200 && response.json?["changed"] as? Bool == true {
            if let poll = response.json?["poll"] as? String { acknowledged[poll, default: 0] += 1 }
        }
        for poll in [open, closedToOthers] {
            let results = fixture.asOrganizer("GET", "/v1/polls/\(poll)/results")
            #expect(results.json?["voters"] as? Int == acknowledged[poll, default: 0], "poll \(poll): \(results)")
            #expect(results.json?["totalVotes"] as? Int == acknowledged[poll, default: 0], "poll \(poll): \(results)")
        }
        // The edits must reach every part of the API's answers, not only 400.
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses[200, default: 0] > 100 && statuses[400, default: 0] > 100, "\(statuses)")
        #expect([401, 404, 409].allSatisfy { statuses[$0, default: 0] > 0 }, "\(statuses)")
    }

    @Test func editedOrganizerRequestsAreAnsweredAndTheDaemonStaysUp() throws {
        let fixture = try NativeFixture(config: Self.config)
        let polls = try (0..<5).map { _ in try fixture.create(#""labels":{"show":"final"}"#) }
        let responses = try Self.sendEdited(rounds: 8, seed: 9, to: fixture, answers: Self.documented.union([201, 204])) { random in
            Self.organizerRequest(polls.randomElement(using: &random)!, &random)
        }
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses[400, default: 0] > 50 && statuses.keys.filter { $0 < 300 }.count >= 2, "\(statuses)")
    }

    /// The live-event pages: their files, the QR code, with the headers they read (Host,
    /// If-None-Match, Accept-Encoding) edited: every answer documented (a 304 too), the daemon up.
    @Test func editedPageRequestsAreAnsweredAndTheDaemonStaysUp() throws {
        let fixture = try NativeFixture(config: Self.config)
        let poll = try fixture.create()
        let etag = try #require(fixture.client.request("GET", "/pages/vote.js")?.headers["etag"])
        let responses = try Self.sendEdited(rounds: 4, seed: 21, to: fixture, answers: Self.documented.union([304])) { random in
            let path = ["/live/\(poll)", "/vote/\(poll)", "/console", "/pages/vote.js", "/pages/pages.css", "/live/\(poll)/qr.svg"]
                .randomElement(using: &random)!
            let extra = ["If-None-Match: \(etag)\r\n", "Accept-Encoding: gzip, deflate\r\n", ""].randomElement(using: &random)!
            return Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\(extra)\r\n".utf8)
        }
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses[200, default: 0] > 50 && statuses[404, default: 0] > 0 && statuses[304, default: 0] > 0, "\(statuses)")
        #expect(fixture.client.request("GET", "/healthz")?.status == 200)
    }

    /// The Mastodon routes: votes (form and JSON), statuses with a poll (JSON and form), reads and
    /// the instance documents, with random edits. Every answer is documented and, where it is an
    /// error, Mastodon's `{"error": …}` or the native shape; every acknowledged vote is stored and
    /// the poll's counts are exactly its stored ballots' (Mastodon's votes add up per voter).
    @Test func editedMastodonRequestsAreAnsweredAndCountsMatchTheBallots() throws {
        let redis = try RedisServer()
        let fixture = try NativeFixture(config: Self.config, redis: redis)
        let created = fixture.client.request(
            "POST", "/mastodon/api/v1/statuses", headers: ["Authorization": "Bearer \(NativeFixture.organizer)"],
            body: #"{"status":"Which?","poll":{"options":["a","b","c","d"],"expires_in":600,"multiple":true}}"#)
        let poll = try #require(created?.json?["id"] as? String)
        let responses = try Self.sendEdited(rounds: 8, seed: 13, to: fixture, answers: Self.documented) { random in
            Self.mastodonRequest(poll: poll, &random)
        }
        for response in responses where response.status >= 400 {
            #expect(response.json?["error"] is String, "\(response)")
        }
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses[200, default: 0] > 50 && statuses[400, default: 0] > 20 && statuses[422, default: 0] > 0, "\(statuses)")
        let ballots = try WriteThroughTests.storedBallots(redis, poll).values.compactMap { UInt64($0, radix: 16) }
        let counts = try WriteThroughTests.storedCounts(redis, poll)
        for option in 0..<4 {
            #expect(counts["\(option)", default: 0] == ballots.filter { $0 & (1 << UInt64(option)) != 0 }.count, "option \(option)")
        }
        let results = fixture.asOrganizer("GET", "/v1/polls/\(poll)/results")
        #expect(NativeFixture.votes(results) == (0..<4).map { counts["\($0)", default: 0] }, "the daemon counts what Redis stored")
    }

    /// The Nextcloud Talk routes (OCS v2 and v1): votes (JSON and form, Basic credentials), creates,
    /// reads, drafts, the server documents, with random edits. Every answer is documented and,
    /// where it is an error, in the OCS envelope, Nextcloud's CSRF answer or the native shape;
    /// the poll's counts are exactly its stored ballots' (a Talk vote replaces the voter's ballot).
    @Test func editedTalkRequestsAreAnsweredAndCountsMatchTheBallots() throws {
        let redis = try RedisServer()
        let fixture = try NativeFixture(config: Self.config, redis: redis)
        let created = fixture.client.request(
            "POST", "/nextcloud/ocs/v2.php/apps/spreed/api/v1/poll/room", headers: ["Authorization": Self.basic("mod", NativeFixture.organizer), "OCS-APIRequest": "true"],
            body: #"{"question":"Which?","options":["a","b","c","d"],"resultMode":0,"maxVotes":2}"#)
        let data = try #require((created?.json?["ocs"] as? [String: Any])?["data"] as? [String: Any])
        let poll = try #require(data["id"] as? Int)
        let responses = try Self.sendEdited(rounds: 8, seed: 17, to: fixture, answers: Self.documented.union([201, 202, 412])) { random in
            Self.talkRequest(poll: poll, &random)
        }
        for response in responses where response.status >= 400 {
            let body = response.json ?? [:]
            #expect(body["ocs"] != nil || body["message"] is String || body["error"] is String, "\(response)")
        }
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses[200, default: 0] > 50 && statuses[400, default: 0] > 20 && statuses[404, default: 0] > 0, "\(statuses)")
        let ballots = try WriteThroughTests.storedBallots(redis, "\(poll)").values.compactMap { UInt64($0, radix: 16) }
        let counts = try WriteThroughTests.storedCounts(redis, "\(poll)")
        for option in 0..<4 {
            #expect(counts["\(option)", default: 0] == ballots.filter { $0 & (1 << UInt64(option)) != 0 }.count, "option \(option)")
        }
        #expect(ballots.allSatisfy { $0 != 0 && $0.nonzeroBitCount <= 2 }, "a withdrawn ballot is no ballot; at most maxVotes")
        let results = fixture.asOrganizer("GET", "/v1/polls/\(poll)/results")
        #expect(NativeFixture.votes(results) == (0..<4).map { counts["\($0)", default: 0] }, "the daemon counts what Redis stored")
    }

    /// The pnut routes: responses (by path, body and query; private polls' tokens in the query),
    /// creates, reads, lists, with random edits. Every answer is documented and in pnut's envelope
    /// (`meta.code` equal to the status; `error_message` on errors) or the native shape; the polls'
    /// counts are exactly their stored ballots' (a response replaces the last one).
    @Test func editedPnutRequestsAreAnsweredAndCountsMatchTheBallots() throws {
        let redis = try RedisServer()
        let fixture = try NativeFixture(config: Self.config, redis: redis)
        func create(_ fields: String) throws -> [String: Any] {
            let created = fixture.client.request(
                "POST", "/pnut/v1/polls", headers: ["Authorization": "Bearer \(NativeFixture.organizer)"],
                body: #"{"type":"io.tally.fuzz","prompt":"Which?","options":[{"text":"a"},{"text":"b"},{"text":"c"},{"text":"d"}],"duration":60,"max_options":2,\#(fields)}"#)
            return try #require(created?.json?["data"] as? [String: Any])
        }
        let open = try create(#""is_public":true"#)
        let closedToOthers = try create(#""is_anonymous":false"#)
        let polls = [(try #require(open["id"] as? String), nil), (try #require(closedToOthers["id"] as? String), closedToOthers["poll_token"] as? String)]
        let responses = try Self.sendEdited(rounds: 8, seed: 23, to: fixture, answers: Self.documented.union([201])) { random in
            let (poll, token) = polls.randomElement(using: &random)!
            return Self.pnutRequest(poll: poll, token: token, &random)
        }
        for response in responses where response.status >= 400 {
            let meta = (response.json ?? [:])["meta"] as? [String: Any]
            #expect((meta?["code"] as? Int == response.status && meta?["error_message"] is String) || response.json?["error"] is String, "\(response)")
        }
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses[200, default: 0] > 50 && statuses[400, default: 0] > 20 && statuses[404, default: 0] > 0, "\(statuses)")
        for (poll, _) in polls {
            let ballots = try WriteThroughTests.storedBallots(redis, poll).values.compactMap { UInt64($0, radix: 16) }
            let counts = try WriteThroughTests.storedCounts(redis, poll)
            for option in 0..<4 {
                #expect(counts["\(option)", default: 0] == ballots.filter { $0 & (1 << UInt64(option)) != 0 }.count, "poll \(poll) option \(option)")
            }
            #expect(ballots.allSatisfy { $0 != 0 && $0.nonzeroBitCount <= 2 }, "a cleared response is no ballot; at most max_options")
        }
    }

    /// The Canvas routes (form bodies, singular and plural names): submissions, sessions, choices,
    /// polls, with random edits. Every answer is documented and in Canvas' error shape (or the
    /// native one); the session's counts are exactly its stored ballots', each a single choice.
    @Test func editedCanvasRequestsAreAnsweredAndCountsMatchTheBallots() throws {
        let redis = try RedisServer()
        let fixture = try NativeFixture(config: Self.config, redis: redis)
        let teacher = ["Authorization": "Bearer \(NativeFixture.organizer)", "Content-Type": "application/x-www-form-urlencoded"]
        func post(_ path: String, _ body: String) throws -> [String: Any] {
            let response = fixture.client.request("POST", "/canvas/api/v1\(path)", headers: teacher, body: body)
            let object = try #require(response?.json)
            return try #require((object.values.first as? [[String: Any]])?.first)
        }
        let poll = try #require(try post("/polls", "polls%5B%5D%5Bquestion%5D=Which%3F")["id"] as? Int)
        let choices = try (0..<3).map { n in try #require(try post("/polls/\(poll)/poll_choices", "poll_choice%5B%5D%5Btext%5D=c\(n)")["id"] as? Int) }
        let session = try #require(try post("/polls/\(poll)/poll_sessions", "poll_session%5B%5D%5Bcourse_id%5D=5")["id"] as? Int)
        #expect(fixture.client.request("GET", "/canvas/api/v1/polls/\(poll)/poll_sessions/\(session)/open", headers: teacher)?.status == 200)
        let responses = try Self.sendEdited(rounds: 8, seed: 29, to: fixture, answers: Self.documented.union([204])) { random in
            Self.canvasRequest(poll: poll, session: session, choices: choices, &random)
        }
        for response in responses where response.status >= 400 {
            #expect(response.json?["errors"] != nil || response.json?["error"] is String, "\(response)")
        }
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses[200, default: 0] > 50 && statuses[400, default: 0] > 20 && statuses[404, default: 0] > 0, "\(statuses)")
        let ballots = try WriteThroughTests.storedBallots(redis, "\(session)").values.compactMap { UInt64($0, radix: 16) }
        let counts = try WriteThroughTests.storedCounts(redis, "\(session)")
        for option in 0..<3 {
            #expect(counts["\(option)", default: 0] == ballots.filter { $0 & (1 << UInt64(option)) != 0 }.count, "option \(option)")
        }
        #expect(ballots.allSatisfy { $0.nonzeroBitCount == 1 }, "one choice per student")
    }

    /// The content-polls endpoint (everything in the query: token, place, pollId, expand; Poll
    /// bodies) beside native votes on the poll's `tallyId`, with random edits. Every answer is
    /// documented and, for an error, `{"error": …}` (or the native shape); the poll's counts are
    /// exactly its stored ballots'.
    @Test func editedContentPollsRequestsAreAnsweredAndCountsMatchTheBallots() throws {
        let redis = try RedisServer()
        let fixture = try NativeFixture(config: Self.config, redis: redis)
        let query = "token=\(NativeFixture.organizer)&type=polls&workspace=PLAT&content=PLAT-7"
        let created = fixture.client.request(
            "POST", "/content-polls?\(query)", headers: ["Content-Type": "application/json"],
            body: #"{"title":"Stars","options":[{"id":"1","title":"one"},{"id":"2","title":"two"},{"id":"3","title":"three"}],"settings":{"allowSelectionOfMultipleOptions":true,"allowRevote":true}}"#)
        let poll = try #require(created?.json?["id"] as? String)
        let tallyID = try #require(created?.json?["tallyId"] as? String)
        let responses = try Self.sendEdited(rounds: 8, seed: 31, to: fixture, answers: Self.documented) { random in
            Self.contentPollsRequest(query: query, poll: poll, tallyID: tallyID, &random)
        }
        for response in responses where response.status >= 400 {
            #expect(response.json?["error"] is String, "\(response)")
        }
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses[200, default: 0] > 50 && statuses[400, default: 0] > 20 && statuses[403, default: 0] > 0, "\(statuses)")
        let ballots = try WriteThroughTests.storedBallots(redis, tallyID).values.compactMap { UInt64($0, radix: 16) }
        let counts = try WriteThroughTests.storedCounts(redis, tallyID)
        #expect(!ballots.isEmpty)
        for option in 0..<3 {
            #expect(counts["\(option)", default: 0] == ballots.filter { $0 & (1 << UInt64(option)) != 0 }.count, "option \(option)")
        }
    }

    /// A valid content-polls call by the organizer, or a native vote on the poll by one of 100 voters.
    static func contentPollsRequest(query: String, poll: String, tallyID: String, _ random: inout SplitMix64) -> [UInt8] {
        let voter = "fan-\(Int.random(in: 0..<100, using: &random))"
        let choices = [[0], [1, 2], [2], [], [0, 1, 2]].randomElement(using: &random)!
        let calls: [(String, String, String?)] = [
            ("POST", "/v1/polls/\(tallyID)/votes", #"{"choices":\#(choices)}"#),
            ("GET", "/content-polls?\(query)", nil),
            ("GET", "/content-polls?\(query)&pollId=\(poll)&expand=results", nil),
            ("PUT", "/content-polls?\(query)&pollId=\(poll)",
             #"{"title":"Stars?","options":[{"id":"3","title":"3","order":0},{"id":"1","title":"1"},{"id":"2","title":"2"}],"settings":{"hideAbsoluteNumbers":true,"endDate":"2031-01-01T00:00:00Z"}}"#),
            ("POST", "/content-polls?\(query)", #"{"title":"More","description":"d","options":[{"title":"a"}],"settings":{"resultsVisibility":"notPublic"}}"#),
            ("DELETE", "/content-polls?\(query)&pollId=ee9107b5-5041-4c15-8c76-f14404fa1fad", nil),
        ]
        let (method, path, body) = calls.randomElement(using: &random)!
        let bearer = path.hasPrefix("/v1/") ? "Authorization: Bearer \(NativeFixture.voterToken(voter))\r\n" : ""
        var head = "\(method) \(path) HTTP/1.1\r\nHost: tally\r\n\(bearer)"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        return Array((head + "\r\n" + (body ?? "")).utf8)
    }

    /// A valid Canvas call by one of 100 students (or the teacher).
    static func canvasRequest(poll: Int, session: Int, choices: [Int], _ random: inout SplitMix64) -> [UInt8] {
        let student = "fan-\(Int.random(in: 0..<100, using: &random))"
        let choice = choices.randomElement(using: &random)!
        let sessions = "/canvas/api/v1/polls/\(poll)/poll_sessions"
        let calls: [(String, String, String?, Bool)] = [
            ("POST", "\(sessions)/\(session)/poll_submissions", "poll_submissions%5B%5D%5Bpoll_choice_id%5D=\(choice)", false),
            ("POST", "\(sessions)/\(session)/poll_submissions", "poll_submission%5B%5D%5Bpoll_choice_id%5D=\(choice)", false),
            ("GET", "\(sessions)/\(session)", nil, false),
            ("GET", "\(sessions)/\(session)", nil, true),
            ("GET", "/canvas/api/v1/polls/\(poll)/poll_choices?per_page=100", nil, false),
            ("GET", "/canvas/api/v1/poll_sessions/opened", nil, false),
            ("POST", "/canvas/api/v1/polls", "polls%5B%5D%5Bquestion%5D=Q&polls%5B%5D%5Bdescription%5D=d", true),
            ("PUT", "/canvas/api/v1/polls/\(poll)/poll_choices/\(choice)", "poll_choice%5B%5D%5Btext%5D=t&poll_choice%5B%5D%5Bis_correct%5D=true", true),
        ]
        let (method, path, body, asTeacher) = calls.randomElement(using: &random)!
        let bearer = asTeacher ? NativeFixture.organizer : NativeFixture.voterToken(student)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: tally\r\nAuthorization: Bearer \(bearer)\r\n"
        if let body { head += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n" }
        return Array((head + "\r\n" + (body ?? "")).utf8)
    }

    /// A valid pnut call by one of 100 voters (or the organizer).
    static func pnutRequest(poll: String, token: String?, _ random: inout SplitMix64) -> [UInt8] {
        let voter = "fan-\(Int.random(in: 0..<100, using: &random))"
        let positions = [[1], [2, 3], [4], [], [1, 4]].randomElement(using: &random)!
        let list = positions.map(String.init).joined(separator: ",")
        let withToken = token.map { "poll_token=\($0)" } ?? ""
        let calls: [(String, String, String?, Bool)] = [
            ("PUT", "/pnut/v1/polls/\(poll)/response/\(list.isEmpty ? "1" : list)?\(withToken)", nil, false),
            ("PUT", "/pnut/v1//polls/\(poll)/response?\(withToken)", #"{"positions":[\#(list)]}"#, false),
            ("PUT", "/pnut/v1/polls/\(poll)/response?positions=\(list)&\(withToken)", nil, false),
            ("GET", "/pnut/v1/polls/\(poll)?\(withToken)", nil, false),
            ("GET", "/pnut/v1/polls?ids=\(poll),1,2", nil, false),
            ("GET", "/pnut/v1/users/me/polls?count=5", nil, false),
            ("POST", "/pnut/v1/polls", #"{"type":"io.tally.fuzz","prompt":"Q","options":[{"text":"x"},{"text":"y","position":1}],"duration":"5","is_public":"true"}"#, true),
        ]
        let (method, path, body, asOrganizer) = calls.randomElement(using: &random)!
        let bearer = asOrganizer ? NativeFixture.organizer : NativeFixture.voterToken(voter)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: tally\r\nAuthorization: Bearer \(bearer)\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        return Array((head + "\r\n" + (body ?? "")).utf8)
    }

    static func basic(_ user: String, _ password: String) -> String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }

    /// A valid Talk call by one of 100 voters (or the moderator).
    static func talkRequest(poll: Int, _ random: inout SplitMix64) -> [UInt8] {
        let voter = "fan-\(Int.random(in: 0..<100, using: &random))"
        let choices = [[0], [1, 2], [3], [], [0, 3]].randomElement(using: &random)!
        let base = "/nextcloud/ocs/\(Bool.random(using: &random) ? "v2" : "v1").php/apps/spreed/api/v1/poll/room"
        let calls: [(String, String, String?, String, Bool)] = [
            ("POST", "\(base)/\(poll)", #"{"optionIds":\#(choices)}"#, "application/json", false),
            ("POST", "\(base)/\(poll)", choices.map { "optionIds%5B%5D=\($0)" }.joined(separator: "&"), "application/x-www-form-urlencoded", false),
            ("GET", "\(base)/\(poll)", nil, "", false),
            ("GET", "\(base)/drafts", nil, "", true),
            ("POST", base, #"{"question":"Q","options":["x","y"],"resultMode":1,"maxVotes":1,"draft":true}"#, "application/json", true),
            ("GET", "/nextcloud/ocs/v1.php/cloud/capabilities", nil, "", false),
            ("GET", "/nextcloud/ocs/v1.php/cloud/user", nil, "", false),
        ]
        let (method, path, body, type, asModerator) = calls.randomElement(using: &random)!
        let authorization = asModerator ? basic("mod", NativeFixture.organizer) : basic(voter, NativeFixture.voterToken(voter))
        var head = "\(method) \(path)?format=json HTTP/1.1\r\nHost: tally\r\nAuthorization: \(authorization)\r\nOCS-APIRequest: true\r\n"
        if let body { head += "Content-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n" }
        return Array((head + "\r\n" + (body ?? "")).utf8)
    }

    /// A valid Mastodon call by one of 100 voters.
    static func mastodonRequest(poll: String, _ random: inout SplitMix64) -> [UInt8] {
        let voter = "fan-\(Int.random(in: 0..<100, using: &random))"
        let choice = Int.random(in: 0..<4, using: &random)
        let calls: [(String, String, String?, String)] = [
            ("POST", "/mastodon/api/v1/polls/\(poll)/votes", "choices%5B%5D=\(choice)", "application/x-www-form-urlencoded"),
            ("POST", "/mastodon/api/v1/polls/\(poll)/votes", #"{"choices":["\#(choice)"]}"#, "application/json"),
            ("GET", "/mastodon/api/v1/polls/\(poll)", nil, ""),
            ("GET", "/mastodon/api/v1/statuses/\(poll)", nil, ""),
            ("GET", "/mastodon/api/v1/instance/", nil, ""),
            ("POST", "/mastodon/api/v1/statuses", #"{"status":"Q","sensitive":"0","poll":{"options":["x","y"],"expires_in":"300"}}"#, "application/json"),
            ("POST", "/mastodon/api/v1/statuses", "status=Q&poll%5Boptions%5D%5B%5D=x&poll%5Boptions%5D%5B%5D=y&poll%5Bexpires_in%5D=900",
                "application/x-www-form-urlencoded"),
        ]
        let (method, path, body, type) = calls.randomElement(using: &random)!
        let token = path.hasSuffix("statuses") ? NativeFixture.organizer : NativeFixture.voterToken(voter)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: tally\r\nAuthorization: Bearer \(token)\r\n"
        if let body { head += "Content-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n" }
        return Array((head + "\r\n" + (body ?? "")).utf8)
    }

    /// Sends `rounds` rounds of 100 requests made by `valid`, four in five with random edits, each on
    /// its own connection and all at once (so that requests an edit left unfinished time out
    /// together). Every request must be answered with one of `answers`, and the daemon must stay
    /// up. Returns the answers.
    static func sendEdited(
        rounds: Int, seed: UInt64, to fixture: NativeFixture, answers: Set<Int>, _ valid: (inout SplitMix64) -> [UInt8]
    ) throws -> [HTTPResponse] {
        var random = SplitMix64(seed: seed)
        var responses: [HTTPResponse] = []
        for round in 0..<rounds {
            let requests = (0..<100).map { _ in
                var request = valid(&random)
                if Int.random(in: 0..<5, using: &random) > 0 { ByteMutation.apply(to: &request, favouring: Self.significant, &random) }
                return request
            }
            let clients = try requests.map { request in
                let client = try fixture.daemon.client()
                client.send(request)
                return client
            }
            // Cut down to nothing (or to line breaks, which HTTP skips before a request): no request,
            // so no answer until the idle timeout closes the connection.
            for (index, client) in clients.enumerated() where !requests[index].allSatisfy({ $0 == 0x0D || $0 == 0x0A }) {
                let shown = "round \(round): \(String(decoding: requests[index], as: UTF8.self).debugDescription)"
                guard let response = client.response(timeout: 3) else {
                    Issue.record("no answer to \(shown)")
                    continue
                }
                #expect(answers.contains(response.status), "\(response.status) for \(shown)")
                responses.append(response)
            }
        }
        #expect(fixture.client.request("GET", "/healthz")?.status == 200)
        return responses
    }

    /// A valid organizer call on `poll`: create, list, change, lifecycle, read or delete.
    static func organizerRequest(_ poll: String, _ random: inout SplitMix64) -> [UInt8] {
        let calls: [(String, String, String?)] = [
            ("POST", "/v1/polls", #"{"question":"Q?","options":["a","b","c"],"maxVotes":2,"closesAt":"2031-01-01T00:00:00Z","labels":{"show":"final"}}"#),
            ("GET", "/v1/polls?state=open&label.show=final", nil),
            ("PATCH", "/v1/polls/\(poll)", #"{"question":"Now?","closesAt":"2032-05-01T10:00:00+02:00","visibility":"afterVote"}"#),
            ("POST", "/v1/polls/\(poll)/close", nil),
            ("POST", "/v1/polls/\(poll)/reopen", #"{"closesAt":"2033-01-01T00:00:00Z"}"#),
            ("GET", "/v1/polls/\(poll)", nil),
            ("DELETE", "/v1/polls/\(poll)", nil),
        ]
        let (method, path, body) = calls.randomElement(using: &random)!
        var head = "\(method) \(path) HTTP/1.1\r\nHost: tally\r\nAuthorization: Bearer \(NativeFixture.organizer)\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        return Array((head + "\r\n" + (body ?? "")).utf8)
    }

    /// A valid vote by one of 300 voters: a signed token or a trusted proxy's voter id, on the open
    /// poll, or on the private one with its token in the query.
    static func request(poll: String, privateTo: (poll: String, token: String), _ random: inout SplitMix64) -> [UInt8] {
        let voter = "voter-\(Int.random(in: 0..<300, using: &random))"
        let identity = Bool.random(using: &random) ? "Authorization: Bearer \(NativeFixture.voterToken(voter))" : "X-Voter-Id: \(voter)"
        let path = Bool.random(using: &random) ? "/v1/polls/\(poll)/votes" : "/v1/polls/\(privateTo.poll)/votes?token=\(privateTo.token)"
        let body = #"{"choices":[\#(Int.random(in: 0..<4, using: &random))]}"#
        return Array(
            "POST \(path) HTTP/1.1\r\nHost: tally\r\n\(identity)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                .utf8)
    }
}
