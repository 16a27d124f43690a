import Foundation
import TallyCore

/// A content poll as the app's REST API has it (`seeds/content-polls-rest.md`), read from and
/// written to an engine poll: the settings map onto the engine's rules, and what the engine has no
/// rule for lives in the poll's labels (`Label`). Admin path.
struct ContentPoll {
    var id: String
    var place: ContentPlace
    var title: String
    var description: String
    /// In the engine's order: option i is choice i of a native vote.
    var options: [ContentOption]
    var settings: ContentPollSettings

    /// The labels a content poll keeps besides the engine's fields.
    enum Label {
        static let id = "content.id"
        static let workspace = "content.workspace"
        static let content = "content.content"
        static let container = "content.container"
        /// The options' ids and orders, JSON `[{"id":"1","order":0}, …]` in the engine's order.
        static let options = "content.options"
        /// `settings.endDate` as the client sent it (absent: "").
        static let endDate = "content.endDate"
        /// `settings.allowComment` ("true"; absent: false). Tally keeps no comments.
        static let allowComment = "content.allowComment"
    }

    /// The content poll an engine poll holds; nil if it is not one.
    init?(_ poll: Poll) {
        let labels = poll.definition.labels
        guard let id = labels[Label.id], let workspace = labels[Label.workspace], let content = labels[Label.content],
            let container = labels[Label.container],
            let stored = try? JSONDecoder().decode([StoredOption].self, from: Data((labels[Label.options] ?? "").utf8)),
            stored.count == poll.definition.options.count
        else { return nil }
        let rules = poll.definition.rules
        self.id = id
        place = ContentPlace(workspace: workspace, content: content, container: container)
        title = poll.definition.question
        description = poll.definition.description
        options = zip(stored, poll.definition.options).map { ContentOption(id: $0.id, title: $1, order: $0.order) }
        settings = ContentPollSettings(
            allowSelectionOfMultipleOptions: rules.maxVotes != 1, resultsVisibility: ResultsVisibility(rules.visibility),
            endDate: labels[Label.endDate] ?? "", hideAbsoluteNumbers: rules.hideCounts, allowRevote: rules.revote,
            saveParticipantNames: !rules.anonymous, closePollOnEndDate: rules.closesOnEnd, allowComment: labels[Label.allowComment] == "true")
    }

    /// A poll not made yet, with the document's default settings.
    init(place: ContentPlace) {
        id = ""
        self.place = place
        title = ""
        description = ""
        options = []
        settings = ContentPollSettings()
    }

    /// The engine poll: single choice or any number of options, the end date (closing the poll
    /// only with `closePollOnEndDate`), revotes, visibility, percentages only, named ballots.
    func definition(createdAt: Timestamp) -> PollDefinition {
        let rules = PollRules(
            maxVotes: settings.allowSelectionOfMultipleOptions ? 0 : 1, closesAt: settings.endDate.isEmpty ? nil : Timestamps.parse(settings.endDate),
            closesOnEnd: settings.closePollOnEndDate, revote: settings.allowRevote, visibility: settings.resultsVisibility.engine,
            hideCounts: settings.hideAbsoluteNumbers, anonymous: !settings.saveParticipantNames)
        var labels = place.labels
        labels[Label.id] = id
        labels[Label.options] = String(decoding: try! JSONEncoder().encode(options.map { StoredOption(id: $0.id, order: $0.order) }), as: UTF8.self)
        if !settings.endDate.isEmpty { labels[Label.endDate] = settings.endDate }
        if settings.allowComment { labels[Label.allowComment] = "true" }
        return PollDefinition(question: title, description: description, options: options.map(\.title), rules: rules, labels: labels, createdAt: createdAt)
    }

    /// `definition`, refused if the engine refuses it.
    func checkedDefinition(createdAt: Timestamp) throws(AdminError) -> PollDefinition {
        let definition = definition(createdAt: createdAt)
        do { try definition.validate() } catch { throw AdminError(error) }
        return definition
    }

    private struct StoredOption: Codable {
        var id: String
        var order: Int
    }
}

struct ContentOption: Equatable {
    var id: String
    var title: String
    var order: Int
}

/// The document's `settings`, with its defaults.
struct ContentPollSettings: Equatable {
    var allowSelectionOfMultipleOptions = false
    var resultsVisibility = ResultsVisibility.alwaysPublic
    /// "" or an RFC 3339 time, kept as sent.
    var endDate = ""
    var hideAbsoluteNumbers = false
    var allowRevote = false
    var saveParticipantNames = false
    var closePollOnEndDate = false
    var allowComment = false
}

/// `settings.resultsVisibility`: the document shows `alwaysPublic`; the others are the app's
/// other choices (always, after voting, after the end date, never) named the same way.
enum ResultsVisibility: String, CaseIterable {
    case alwaysPublic, publicAfterVote, publicAfterEndDate, notPublic

    init(_ visibility: Visibility) {
        switch visibility {
        case .always: self = .alwaysPublic
        case .afterVote: self = .publicAfterVote
        case .afterClose: self = .publicAfterEndDate
        case .organizerOnly: self = .notPublic
        }
    }

    var engine: Visibility {
        switch self {
        case .alwaysPublic: .always
        case .publicAfterVote: .afterVote
        case .publicAfterEndDate: .afterClose
        case .notPublic: .organizerOnly
        }
    }
}

extension ContentPlace {
    /// The labels of the polls in this place.
    var labels: [String: String] {
        [ContentPoll.Label.workspace: workspace, ContentPoll.Label.content: content, ContentPoll.Label.container: container]
    }
}
