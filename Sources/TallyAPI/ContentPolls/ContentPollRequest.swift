import Foundation
import TallyCore

/// A Poll body (`seeds/content-polls-rest.md`) applied to a content poll: POST's onto a new one,
/// PUT's onto the stored one. A field left out keeps its value (a new poll's: the document's
/// defaults); `options`, when given, is the whole new list, matched to the old one by `id`.
/// Types are the document's, checked strictly; `id`, `tallyId` and `results` in a body are
/// ignored (the query's `pollId` names the poll). Admin path.
enum ContentPollRequest {
    static let maxTitleCharacters = 500
    static let maxDescriptionCharacters = 5_000
    static let maxOptionIDCharacters = 64

    static func apply(_ body: [UInt8], to poll: inout ContentPoll) throws(AdminError) {
        guard case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else {
            throw invalid("the body must be a Poll: a JSON object")
        }
        if let title = fields["title"] { poll.title = try text(title, "title", atMost: maxTitleCharacters) }
        if let description = fields["description"] {
            guard case .string(let text) = description, text.count <= maxDescriptionCharacters else {
                throw invalid("'description' must be a string of at most \(maxDescriptionCharacters) characters")
            }
            poll.description = text
        }
        if let options = fields["options"] { poll.options = try self.options(options, replacing: poll.options) }
        if let settings = fields["settings"] { try apply(settings, to: &poll.settings) }
        guard !poll.title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw invalid("'title' is required") }
        guard (1...Ballot.maxOptions).contains(poll.options.count) else {
            throw invalid("'options' must list 1 to \(Ballot.maxOptions) options")
        }
    }

    /// The new list in the engine's order: the options kept, where they were, then the new ones.
    private static func options(_ value: JSONValue, replacing old: [ContentOption]) throws(AdminError) -> [ContentOption] {
        guard case .array(let items) = value else { throw invalid("'options' must be an array of options") }
        var given: [(id: String?, title: String, order: Int)] = []
        for (index, item) in items.enumerated() {
            let name = "options[\(index)]"
            guard case .object(let option) = item else { throw invalid("'\(name)' must be an object with a title") }
            var id: String?
            if let value = option["id"] {
                guard case .string(let text) = value, (1...maxOptionIDCharacters).contains(text.count) else {
                    throw invalid("'\(name).id' must be a string of 1 to \(maxOptionIDCharacters) characters")
                }
                guard !given.contains(where: { $0.id == text }) else { throw invalid("'\(name).id' \"\(text)\" is given twice") }
                id = text
            }
            let title = try text(option["title"] ?? .null, "\(name).title", atMost: maxTitleCharacters)
            var order = index
            if let value = option["order"] {
                guard case .number(let number) = value, number == number.rounded(), abs(number) < 1e9 else {
                    throw invalid("'\(name).order' must be a whole number")
                }
                order = Int(number)
            }
            given.append((id, title, order))
        }
        // New options without an id get the next number after every id in use.
        var next = (old.map(\.id) + given.compactMap(\.id)).compactMap { Int($0) }.max().map { $0 + 1 } ?? 1
        let named = given.map { option -> ContentOption in
            if let id = option.id { return ContentOption(id: id, title: option.title, order: option.order) }
            defer { next += 1 }
            return ContentOption(id: String(next), title: option.title, order: option.order)
        }
        let kept = old.compactMap { option in named.first { $0.id == option.id } }
        return kept + named.filter { option in !old.contains { $0.id == option.id } }
    }

    private static func apply(_ value: JSONValue, to settings: inout ContentPollSettings) throws(AdminError) {
        guard case .object(let fields) = value else { throw invalid("'settings' must be an object") }
        func flag(_ name: String, _ setting: inout Bool) throws(AdminError) {
            guard let value = fields[name] else { return }
            guard case .bool(let flag) = value else { throw invalid("'settings.\(name)' must be true or false") }
            setting = flag
        }
        try flag("allowSelectionOfMultipleOptions", &settings.allowSelectionOfMultipleOptions)
        try flag("hideAbsoluteNumbers", &settings.hideAbsoluteNumbers)
        try flag("allowRevote", &settings.allowRevote)
        try flag("saveParticipantNames", &settings.saveParticipantNames)
        try flag("closePollOnEndDate", &settings.closePollOnEndDate)
        try flag("allowComment", &settings.allowComment)
        if let value = fields["resultsVisibility"] {
            guard case .string(let text) = value, let visibility = ResultsVisibility(rawValue: text) else {
                throw invalid("'settings.resultsVisibility' must be one of \(ResultsVisibility.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "))")
            }
            settings.resultsVisibility = visibility
        }
        if let value = fields["endDate"] {
            guard case .string(let text) = value, text.isEmpty || Timestamps.parse(text) != nil else {
                throw invalid("'settings.endDate' must be \"\" (none) or an ISO 8601 time, e.g. 2026-12-24T18:00:00.000Z")
            }
            settings.endDate = text
        }
    }

    private static func text(_ value: JSONValue, _ name: String, atMost limit: Int) throws(AdminError) -> String {
        guard case .string(let text) = value, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, text.count <= limit else {
            throw invalid("'\(name)' must be a non-empty string of at most \(limit) characters")
        }
        return text
    }

    private static func invalid(_ message: String) -> AdminError { .invalidField("Bad request. \(message)") }
}
