import Foundation
import TallyCore
import TallyHTTP

/// `POST …/poll/{token}`: `{question, options[], resultMode, maxVotes, draft}` as JSON (what
/// nc-py-api and the Talk clients send) or a form, checked as `PollService::createPoll` checks it:
/// the question trimmed, not empty, at most 32 000 bytes; options strings, trimmed, blanks dropped,
/// at least 2, their JSON at most 60 000 bytes. Each refusal is Talk's 400 `{"error": reason}`.
/// Tally's own limits on top: at most `Ballot.maxOptions` options (reason `options`), `resultMode`
/// 0 or 1 and `maxVotes` not negative (reasons `resultMode`, `maxVotes`, which Talk does not check).
/// Admin path.
struct NextcloudPollRequest {
    static let maxQuestionBytes = 32_000
    static let maxOptionsJSONBytes = 60_000

    var question: String
    var options: [String]
    var hidesResults: Bool
    var maxVotes: Int
    var draft: Bool

    init(_ request: Request) throws(AdminError) {
        let fields = NextcloudPollRequest.fields(request)
        guard case .string(let text)? = fields["question"] else { throw .invalidField("question") }
        let question = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty, question.utf8.count <= Self.maxQuestionBytes else { throw .invalidField("question") }
        guard case .array(let raw)? = fields["options"] else { throw .invalidField("options") }
        var options: [String] = []
        for value in raw {
            guard case .string(let option) = value else { throw .invalidField("options") }
            let trimmed = option.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { options.append(trimmed) }
        }
        let optionsJSON = (try? JSONEncoder().encode(options)) ?? Data()
        guard options.count >= 2, options.count <= Ballot.maxOptions, optionsJSON.count <= Self.maxOptionsJSONBytes else {
            throw .invalidField("options")
        }
        // Absent: 0 (public; no limit). Present: an integer, or refused.
        let resultMode = fields["resultMode"].map(\.wholeNumber) ?? .some(0)
        guard resultMode == 0 || resultMode == 1 else { throw .invalidField("resultMode") }
        let maxVotes = fields["maxVotes"].map(\.wholeNumber) ?? .some(0)
        guard let maxVotes, maxVotes >= 0 else { throw .invalidField("maxVotes") }
        self.question = question
        self.options = options
        hidesResults = resultMode == 1
        // More than the options is no limit at all; the engine keeps it within them.
        self.maxVotes = min(maxVotes, options.count)
        draft = fields["draft"].map(NextcloudPollRequest.bool) ?? false
    }

    /// The engine poll: the room as a label, named ballots, a vote replaces the last one.
    func definition(room: String, author: String, now: Timestamp) -> PollDefinition {
        let rules = PollRules(maxVotes: maxVotes, revote: true, visibility: hidesResults ? .afterClose : .afterVote, anonymous: false)
        return PollDefinition(
            question: question, options: options, rules: rules, labels: [NextcloudPollJSON.roomLabel: room], organizer: author, createdAt: now)
    }

    /// The body's fields: a JSON object, or a form (`options[]=…`), as Nextcloud reads either.
    private static func fields(_ request: Request) -> [String: JSONValue] {
        if case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(request.body)) { return object }
        var fields: [String: JSONValue] = [:]
        var options: [JSONValue] = []
        _ = FormBody.forEach(request.body) { name, value in
            guard let name = FormBody.text(name), let text = FormBody.text(value) else { return true }
            if name == "options[]" { options.append(.string(text)) } else { fields[name] = .string(text) }
            return true
        }
        if !options.isEmpty { fields["options"] = .array(options) }
        return fields
    }

    /// A boolean as PHP's `bool` parameter takes it: true/false, a number, "1"/"true".
    private static func bool(_ value: JSONValue) -> Bool {
        switch value {
        case .bool(let flag): flag
        case .number(let number): number != 0
        case .string(let text): ["1", "true"].contains(text.lowercased())
        default: false
        }
    }
}
