import Foundation
import TallyCore
import TallyHTTP
import TallyStore

/// Organizer calls: create, list, update, delete, open, close, reopen. Admin path: Foundation's
/// JSON parser, allocation allowed. A change is checked here, written to Redis (which tells the
/// other daemons), then applied to this daemon's registry and answered.
enum LifecycleAction: String, CaseIterable {
    case open, close, reopen
}

extension NativeAPI {
    /// `POST /v1/polls`.
    func create(_ request: Request, _ response: ResponseWriter, _ desk: PollDesk) {
        adminCall(response) {
            var fields = try JSONFields(request.body)
            let options = try fields.strings("options") ?? []
            var rules = PollRules(
                maxVotes: try fields.integer("maxVotes") ?? 1,
                closesAt: try fields.timestamp("closesAt") ?? nil,
                closesOnEnd: try fields.bool("closesOnEnd") ?? true,
                revote: try fields.bool("revote") ?? false,
                visibility: try fields.visibility("visibility") ?? .always,
                hideCounts: try fields.bool("hideCounts") ?? false,
                anonymous: try fields.bool("anonymous") ?? true)
            if try fields.bool("private") == true { rules.token = .random() }
            let question = try fields.string("question")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            guard !question.isEmpty else { throw FieldError("'question' is required") }
            let shards = try fields.integer("shards")
            if let shards, shards < 1 || shards > PollShards.maxCount { throw FieldError("'shards' must be from 1 to \(PollShards.maxCount)") }
            let now = WallClock.now()
            if let closesAt = rules.closesAt, closesAt <= now { throw FieldError("'closesAt' must be in the future") }
            let definition = PollDefinition(
                question: question, description: try fields.string("description") ?? "", options: options, rules: rules,
                labels: try fields.labels("labels") ?? [:], createdAt: now,
                expectedVoters: try fields.integer("expectedVoters") ?? 0, shards: shards ?? 0)
            let lifecycle: Lifecycle = try fields.bool("draft") == true ? .draft : .open
            try fields.rejectUnknown()
            try definition.validate()
            desk.create(definition, lifecycle, response, style) { poll, response in NativeAPI.writePoll(poll, status: 201, response) }
        }
    }

    /// Polls a page answers at most, and by default.
    static let pageLimit = 1_000
    static let defaultPageSize = 100

    /// `GET /v1/polls?state=open&label.NAME=VALUE&limit=N&cursor=C`: by id, a page at a time;
    /// `next` is the cursor of the page after (the last id shown), null after the last page.
    func list(_ request: Request, _ response: ResponseWriter, _ desk: PollDesk) {
        adminCall(response) {
            var lifecycle: Lifecycle?
            var labels: [String: String] = [:]
            var limit = NativeAPI.defaultPageSize
            var after: PollID = 0
            for (name, value) in QueryString.pairs(request.query) {
                if name == "state" {
                    guard let state = Lifecycle(name: value) else { throw FieldError("'state' must be draft, open or closed") }
                    lifecycle = state
                } else if name == "limit" {
                    guard let number = Int(value), (1...NativeAPI.pageLimit).contains(number) else {
                        throw FieldError("'limit' must be from 1 to \(NativeAPI.pageLimit)")
                    }
                    limit = number
                } else if name == "cursor" {
                    guard let id = PollID(value) else { throw FieldError("'cursor' must be the 'next' of an earlier page") }
                    after = id
                } else if name.hasPrefix("label.") {
                    labels[String(name.dropFirst(6))] = value
                } else {
                    throw FieldError("unknown query parameter '\(name)'")
                }
            }
            let listing = registry.list(PollQuery(lifecycle: lifecycle, labels: labels), after: after, limit: limit)
            guard let (polls, more) = desk.listed(listing, response, style) else { return }
            let now = WallClock.now()
            response.writeJSON(status: 200) { json in
                json.object { body in
                    body.key("polls")
                    body.array { list in
                        for poll in polls { PollJSON.poll(poll, poll.results(for: .organizer, now: now), organizer: true, &list) }
                    }
                    body.key("next")
                    if more, let last = polls.last { PollJSON.id(last.id, &body) } else { body.null() }
                }
            }
        }
    }

    /// `PATCH /v1/polls/{id}`: the rules that are safe to change while people vote.
    func update(_ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desk: PollDesk) {
        adminCall(response) {
            let id = try pollID(idText)
            var fields = try JSONFields(request.body)
            let question = try fields.string("question")?.trimmingCharacters(in: .whitespacesAndNewlines)
            if question?.isEmpty == true { throw FieldError("'question' must not be empty") }
            let description = try fields.string("description")
            let closesAt = try fields.timestamp("closesAt")
            let closesOnEnd = try fields.bool("closesOnEnd")
            let revote = try fields.bool("revote")
            let visibility = try fields.visibility("visibility")
            let hideCounts = try fields.bool("hideCounts")
            let labels = try fields.labels("labels")
            for fixed in ["options", "maxVotes", "anonymous", "private", "draft", "expectedVoters", "shards"] where fields.has(fixed) {
                throw FieldError("'\(fixed)' cannot change once a poll exists")
            }
            try fields.rejectUnknown()
            guard let poll = desk.find(id, response, style) else { return }
            var definition = poll.definition
            do {
                if let question { definition.question = question }
                if let description { definition.description = description }
                if let closesAt { definition.rules.closesAt = closesAt }
                if let closesOnEnd { definition.rules.closesOnEnd = closesOnEnd }
                if let revote { definition.rules.revote = revote }
                if let visibility { definition.rules.visibility = visibility }
                if let hideCounts { definition.rules.hideCounts = hideCounts }
                if let labels { definition.labels = labels }
            }
            try definition.validate()
            persist(poll, definition, poll.lifecycle, request, response, desk)
        }
    }

    /// `DELETE /v1/polls/{id}`.
    func delete(_ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desk: PollDesk) {
        adminCall(response) {
            desk.delete(try pollID(idText), response, style) { response in
                response.write(status: 204, contentType: nil, body: UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
    }

    /// `POST /v1/polls/{id}/open|close|reopen`; reopen takes an optional `{"closesAt": …}`.
    func transition(
        _ action: LifecycleAction, _ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desk: PollDesk
    ) {
        adminCall(response) {
            let id = try pollID(idText)
            switch action {
            case .open:
                guard let poll = try poll(id, in: .draft, for: "open", response, desk) else { return }
                persist(poll, poll.definition, .open, request, response, desk)
            case .close:
                guard let poll = try poll(id, in: .open, for: "close", response, desk) else { return }
                persist(poll, poll.definition, .closed, request, response, desk)
            case .reopen:
                var closesAt: Timestamp??
                if !request.body.isEmpty {
                    var fields = try JSONFields(request.body)
                    closesAt = try fields.timestamp("closesAt")
                    try fields.rejectUnknown()
                }
                guard let poll = try poll(id, in: .closed, for: "reopen", response, desk) else { return }
                var definition = poll.definition
                if let closesAt { definition.rules.closesAt = closesAt }
                persist(poll, definition, .open, request, response, desk)
            }
        }
    }

    /// Saves the change made from `poll`, then answers 200 with it. Redis saves it only if the
    /// poll is still at the version the change was made from (see `PollVersion`). With
    /// `If-Match`, that must be the version the client names: an older one is 412; a newer one
    /// than this daemon has seen yet (written through another daemon a moment ago) is 409, as the
    /// change would be made from a stale copy.
    private func persist(
        _ poll: Poll, _ definition: PollDefinition, _ lifecycle: Lifecycle, _ request: Request, _ response: ResponseWriter, _ desk: PollDesk
    ) {
        var fromClient = false
        if let ifMatch = request.header("if-match").map({ String(decoding: ASCII.trimmed($0), as: UTF8.self) }), ifMatch != "*" {
            guard let named = PollVersion(entityTag: Substring(ifMatch)) else { return style.write(AdminError.preconditionFailed, response) }
            guard named == poll.version else {
                return style.write(named.revision > poll.revision ? AdminError.changedMeanwhile : .preconditionFailed, response)
            }
            fromClient = true
        }
        desk.save(poll.id, definition, lifecycle, response.deferred(), style, expected: poll.version, fromClient: fromClient) { poll, response in
            NativeAPI.writePoll(poll, status: 200, response)
        }
    }

    // MARK: - Helpers

    /// The poll as organizers see it, with its version as the `ETag` (for `If-Match`).
    private static func writePoll(_ poll: Poll, status: Int, _ response: ResponseWriter) {
        let results = poll.results(for: .organizer, now: WallClock.now())
        response.writeJSON(status: status, header: ("ETag", poll.version.entityTag)) { json in PollJSON.poll(poll, results, organizer: true, &json) }
    }

    private func pollID(_ text: UnsafeRawBufferPointer) throws(PollAdminError) -> PollID {
        guard let id = PollIDs.parse(text) else { throw .unknownPoll }
        return id
    }

    /// Runs an organizer call and answers its errors.
    /// The poll if it is in `from`, nil while it is loaded (or answered unknown); throws when it
    /// is in another state.
    private func poll(_ id: PollID, in from: Lifecycle, for action: String, _ response: ResponseWriter, _ desk: PollDesk) throws -> Poll? {
        guard let poll = desk.find(id, response, style) else { return nil }
        guard poll.lifecycle == from else { throw PollAdminError.invalidTransition(from: poll.lifecycle, action: action) }
        return poll
    }

    private func adminCall(_ response: ResponseWriter, _ body: () throws -> Void) {
        do {
            try body()
        } catch let error as FieldError {
            style.write(AdminError.invalidField(error.message), response)
        } catch let error as PollAdminError {
            style.write(AdminError(error), response)
        } catch {
            response.writeError(status: 500, code: "internal_error", detail: "\(error)")
        }
    }
}

/// A request field that is missing, of the wrong type or not allowed.
struct FieldError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Typed reads from a JSON object body, each with a precise error; `rejectUnknown` refuses fields
/// nobody read, so a typo is an error rather than silently ignored.
struct JSONFields {
    private var object: [String: JSONValue]
    private var read: Set<String> = []

    init(_ body: UnsafeRawBufferPointer) throws {
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else {
            throw FieldError("the body must be a JSON object")
        }
        self.object = object
    }

    func has(_ name: String) -> Bool { object[name] != nil }

    mutating func rejectUnknown() throws {
        if let unknown = Set(object.keys).subtracting(read).sorted().first { throw FieldError("unknown field '\(unknown)'") }
    }

    mutating func string(_ name: String) throws -> String? {
        try value(name, "a string") { if case .string(let text) = $0 { text } else { nil } }
    }

    mutating func bool(_ name: String) throws -> Bool? {
        try value(name, "true or false") { if case .bool(let flag) = $0 { flag } else { nil } }
    }

    mutating func integer(_ name: String) throws -> Int? {
        try value(name, "a whole number, 0 or more") { value in
            guard case .number(let number) = value, let exact = Int(exactly: number), exact >= 0 else { return nil }
            return exact
        }
    }

    mutating func strings(_ name: String) throws -> [String]? {
        try value(name, "an array of strings") { value in
            guard case .array(let items) = value else { return nil }
            let texts = items.compactMap { if case .string(let text) = $0 { text } else { nil } }
            return texts.count == items.count ? texts : nil
        }
    }

    mutating func labels(_ name: String) throws -> [String: String]? {
        try value(name, "an object of strings") { value in
            guard case .object(let members) = value else { return nil }
            let texts = members.compactMapValues { if case .string(let text) = $0 { text } else { nil } }
            return texts.count == members.count ? texts : nil
        }
    }

    mutating func visibility(_ name: String) throws -> Visibility? {
        try value(name, "one of always, afterVote, afterClose, organizerOnly") { value in
            if case .string(let text) = value { Visibility(rawValue: text) } else { nil }
        }
    }

    /// An RFC 3339 string, or null (returned as `.some(nil)`: clear the end date).
    mutating func timestamp(_ name: String) throws -> Timestamp?? {
        read.insert(name)
        guard let value = object[name] else { return nil }
        if case .null = value { return .some(nil) }
        guard case .string(let text) = value, let time = Timestamps.parse(text) else {
            throw FieldError("'\(name)' must be an RFC 3339 time from 1970 to 9999, like 2026-11-23T20:00:00Z, or null")
        }
        return .some(time)
    }

    private mutating func value<T>(_ name: String, _ expected: String, _ convert: (JSONValue) -> T?) throws -> T? {
        read.insert(name)
        guard let value = object[name] else { return nil }
        guard let converted = convert(value) else { throw FieldError("'\(name)' must be \(expected)") }
        return converted
    }
}
