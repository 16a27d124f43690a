import TallyHTTP

/// The query parameters every content-polls call carries (`seeds/content-polls-rest.md`): `token`,
/// `type=polls`, `workspace`, `content`, `container` and, for one poll, `pollId`; Tally adds
/// `expand=results`. Percent-decoded; the first of a repeated name counts. Admin path.
struct ContentPollQuery {
    let values: [String: String]

    init(_ request: Request) {
        values = Dictionary(QueryString.pairs(request.query)) { first, _ in first }
    }

    var token: String? { values["token"] }
    var pollID: String? { values["pollId"].flatMap { $0.isEmpty ? nil : $0 } }
    /// `expand=results` (or a comma-separated list naming it).
    var expandsResults: Bool { values["expand"]?.split(separator: ",").contains("results") ?? false }

    /// Where the call's polls live; or the 400 that names what is missing.
    func place() throws(AdminError) -> ContentPlace {
        guard let type = values["type"], !type.isEmpty else { throw missing("type") }
        guard type == "polls" else { throw .invalidField("Bad request. 'type' must be 'polls'") }
        guard let workspace = values["workspace"], !workspace.isEmpty else { throw missing("workspace") }
        guard let content = values["content"], !content.isEmpty else { throw missing("content") }
        let container = values["container"] ?? ""
        if container.isEmpty && !ContentPlace.isJiraIssue(content, of: workspace) { throw missing("container") }
        return ContentPlace(workspace: workspace, content: content, container: container)
    }

    /// `pollId`, where the call needs one.
    func requiredPollID() throws(AdminError) -> String {
        guard let pollID else { throw missing("pollId") }
        return pollID
    }

    private func missing(_ name: String) -> AdminError {
        .invalidField("Bad request. Required field '\(name)' is not defined in query parameters")
    }
}

/// A Jira issue (`workspace` a project key, `content` an issue key, `container` empty) or a
/// Confluence page (`workspace` a space id, `content` a page id, `container` the poll macro's id):
/// the polls' container labels.
struct ContentPlace: Equatable {
    var workspace: String
    var content: String
    var container: String

    /// Jira's content is an issue key of the workspace's project, `PLAT-254604` in `PLAT`;
    /// Confluence's is a page id (digits), which needs a container.
    static func isJiraIssue(_ content: String, of workspace: String) -> Bool {
        guard content.hasPrefix(workspace + "-") else { return false }
        let number = content.dropFirst(workspace.count + 1)
        return !number.isEmpty && number.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
