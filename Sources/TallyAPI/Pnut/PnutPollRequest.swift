import Foundation
import TallyCore
import TallyHTTP

/// `POST /polls` as pnut documents it (`seeds/pnut-polls.md`): JSON with `type` and `prompt` (up to
/// 256 characters), `options` (2 to 10, each `{"text"}` of up to 64 characters, with an optional
/// `position` to order them), `closed_at` (1 minute to 2 weeks ahead) or `duration` (1 to 20 160
/// minutes), `max_options` (1 to the number of options, default 1), `is_anonymous` (default true)
/// and `is_public` (default false). Numbers and booleans may come as strings (`"60"`, `"false"`),
/// as pnut's own example sends them. Admin path.
struct PnutPollRequest {
    static let maxPromptCharacters = 256
    static let maxOptionCharacters = 64
    static let optionCount = 2...10
    static let durationMinutes = 1...20_160

    var type: String
    var prompt: String
    var options: [String]
    var closesAt: Timestamp
    var maxOptions: Int
    var isAnonymous: Bool
    var isPublic: Bool

    init(_ request: Request, now: Timestamp) throws(AdminError) {
        guard case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(request.body)) else {
            throw .invalidField("The body must be a JSON object.")
        }
        guard case .string(let type)? = fields["type"], !type.isEmpty, type.count <= 128 else {
            throw .invalidField("type is required: a reverse domain name-style identifier, e.g. com.example.site.")
        }
        guard case .string(let prompt)? = fields["prompt"], !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
            prompt.count <= Self.maxPromptCharacters
        else { throw .invalidField("prompt is required, up to \(Self.maxPromptCharacters) characters.") }
        guard case .array(let list)? = fields["options"], Self.optionCount.contains(list.count) else {
            throw .invalidField("options must list 2 to 10 options.")
        }
        var options: [(text: String, position: Int?)] = []
        for item in list {
            guard case .object(let option) = item, case .string(let text)? = option["text"], !text.isEmpty,
                text.count <= Self.maxOptionCharacters
            else { throw .invalidField("Each option needs a text of 1 to \(Self.maxOptionCharacters) characters.") }
            let position = option["position"]?.wholeNumber
            if option["position"] != nil && position == nil { throw .invalidField("An option's position must be a whole number.") }
            options.append((text, position))
        }
        // Options that give positions are ordered by them; the others keep their place after them.
        let ordered = options.enumerated().sorted { ($0.element.position ?? Int.max, $0.offset) < ($1.element.position ?? Int.max, $1.offset) }
        self.options = ordered.map(\.element.text)

        if let closedAt = fields["closed_at"] {
            guard case .string(let text) = closedAt, let time = Timestamps.parse(text) else {
                throw .invalidField("closed_at must be an ISO 8601 time, e.g. 2026-12-06T20:00:00Z.")
            }
            guard time >= now + 60_000_000, time <= now + 14 * 86_400_000_000 else {
                throw .invalidField("closed_at must be at least 1 minute and at most 2 weeks ahead.")
            }
            closesAt = time
        } else if let duration = fields["duration"] {
            guard let minutes = duration.wholeNumber, Self.durationMinutes.contains(minutes) else {
                throw .invalidField("duration must be 1 to 20160 minutes.")
            }
            closesAt = now + Timestamp(minutes) * 60_000_000
        } else {
            throw .invalidField("closed_at or duration is required.")
        }
        let maxOptions = fields["max_options"].map(\.wholeNumber) ?? .some(1)
        guard let maxOptions, (1...options.count).contains(maxOptions) else {
            throw .invalidField("max_options must be from 1 to the number of options.")
        }
        self.maxOptions = maxOptions
        guard let isAnonymous = fields["is_anonymous"].map(PnutPollRequest.bool) ?? true,
            let isPublic = fields["is_public"].map(PnutPollRequest.bool) ?? false
        else { throw .invalidField("is_anonymous and is_public must be true or false.") }
        self.type = type
        self.prompt = prompt
        self.isAnonymous = isAnonymous
        self.isPublic = isPublic
    }

    /// The engine poll: closes at `closesAt`, responses may change until then, respondents see the
    /// counts (`afterVote`); a private poll gets a token.
    func definition(author: String?, now: Timestamp) -> PollDefinition {
        let rules = PollRules(
            maxVotes: maxOptions, closesAt: closesAt, closesOnEnd: true, revote: true, visibility: .afterVote, anonymous: isAnonymous,
            token: isPublic ? nil : .random())
        return PollDefinition(
            question: prompt, options: options, rules: rules, labels: [PnutPollJSON.typeLabel: type], organizer: author, createdAt: now)
    }

    /// true/false, 1/0, or those as strings.
    private static func bool(_ value: JSONValue) -> Bool? {
        switch value {
        case .bool(let flag): flag
        case .number(let number) where number == 0 || number == 1: number == 1
        case .string(let text):
            switch text.lowercased() {
            case "true", "1": true
            case "false", "0": false
            default: nil
            }
        default: nil
        }
    }
}
