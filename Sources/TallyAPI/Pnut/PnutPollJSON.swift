import TallyCore
import TallyHTTP

/// pnut.io's Poll object (`seeds/pnut-polls.md`, `../shared/DIALECTS.md`) from an engine poll.
/// Positions count from 1. `respondents` show to the poll's creator, to a respondent and to
/// everyone after close (the engine's `afterVote`, which pnut polls are created with); the ids of
/// who chose an option, only on polls that are not anonymous, under the same condition. No
/// allocation (a response's answer writes it).
enum PnutPollJSON {
    /// The label that holds a poll's pnut `type` (`com.example.site`).
    static let typeLabel = "pnut.type"
    /// The type of a poll created through another API.
    static let defaultType = "io.tally.poll"

    /// - Parameters:
    ///   - own: the viewer's ballot (`is_your_response`).
    ///   - showsToken: write `poll_token` (on creation, or for a caller who passed it).
    ///   - respondents: each voter id and ballot, for `respondent_ids` (nil: left out).
    static func poll(
        _ poll: Poll, viewer: Viewer, own: Ballot, showsToken: Bool, respondents: [(voter: String, ballot: Ballot)]?, now: Timestamp,
        _ json: inout JSONWriter
    ) {
        let definition = poll.definition
        let rules = definition.rules
        let results = poll.results(for: viewer, now: now)
        json.object { body in
            body.key("id")
            body.value(decimalString: poll.id)
            body.field("type", string: definition.labels[typeLabel] ?? defaultType)
            body.field("prompt", string: definition.question)
            body.key("created_at")
            Timestamps.writeJSON(definition.createdAt, to: &body)
            body.key("closed_at")
            if let closesAt = rules.closesAt { Timestamps.writeJSON(closesAt, to: &body) } else { body.null() }
            body.field("is_anonymous", rules.anonymous)
            body.field("is_public", rules.token == nil)
            body.field("max_options", definition.ballotLimit)
            if showsToken, let token = rules.token {
                body.key("poll_token")
                token.withHex { body.value(bytes: $0) }
            }
            body.key("source")
            body.object { source in
                source.field("name", "Tally")
                source.field("link", "")
                source.field("id", "tally")
            }
            body.key("options")
            body.array { options in
                for (index, text) in definition.options.enumerated() {
                    options.object { option in
                        option.field("text", string: text)
                        option.field("position", index + 1)
                        option.field("is_your_response", own.contains(index))
                        guard results.showsCounts else { return }
                        guard !rules.anonymous, let respondents else { return option.field("respondents", results.count(of: index)) }
                        // Counted from the ballots Redis holds, like the ids beside them (this
                        // daemon's counts may not have every daemon's newest responses yet).
                        option.field("respondents", respondents.count { $0.ballot.contains(index) })
                        option.key("respondent_ids")
                        option.array { ids in
                            for (voter, ballot) in respondents where ballot.contains(index) { ids.value(string: voter) }
                        }
                    }
                }
            }
        }
    }
}
