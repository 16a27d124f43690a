import TallyCore
import TallyHTTP

/// The native JSON form of a poll and of its results as one viewer sees them. What the viewer may
/// not see is `null`, not left out, so clients can tell "hidden" from "zero".
enum PollJSON {
    static func poll(_ poll: Poll, _ results: ResultsView, organizer: Bool, _ json: inout JSONWriter) {
        let definition = poll.definition
        let rules = definition.rules
        json.object { body in
            body.key("id")
            id(poll.id, &body)
            body.field("question", string: definition.question)
            body.field("description", string: definition.description)
            body.field("state", poll.lifecycle.name)
            body.field("closed", results.isClosed)
            body.key("closesAt")
            if let closesAt = rules.closesAt { Timestamps.writeJSON(closesAt, to: &body) } else { body.null() }
            body.field("closesOnEnd", rules.closesOnEnd)
            body.field("maxVotes", rules.maxVotes)
            body.field("revote", rules.revote)
            body.field("visibility", string: rules.visibility.rawValue)
            body.field("hideCounts", rules.hideCounts)
            body.field("anonymous", rules.anonymous)
            body.field("private", rules.token != nil)
            if organizer, let token = rules.token { body.field("token", string: token.description) }
            if organizer { body.field("shards", poll.storeShards.count) }
            body.key("labels")
            body.object { labels in
                for (name, value) in definition.labels.sorted(by: { $0.key < $1.key }) {
                    labels.key(string: name)
                    labels.value(string: value)
                }
            }
            body.key("createdAt")
            Timestamps.writeJSON(definition.createdAt, to: &body)
            resultFields(definition.options, results, &body)
        }
    }

    static func results(_ poll: Poll, _ results: ResultsView, _ json: inout JSONWriter) {
        json.object { body in
            body.key("poll")
            id(poll.id, &body)
            body.field("closed", results.isClosed)
            resultFields(poll.definition.options, results, &body)
        }
    }

    /// `resultsVisible`, `countsVisible`, `options[]`, `voters`, `totalVotes`, `ownChoices`.
    private static func resultFields(_ titles: [String], _ results: ResultsView, _ body: inout JSONWriter) {
        body.field("resultsVisible", results.showsResults)
        body.field("countsVisible", results.showsCounts)
        body.key("options")
        body.array { options in
            for (index, title) in titles.enumerated() {
                options.object { option in
                    option.field("title", string: title)
                    option.key("votes")
                    if results.showsCounts { option.value(results.count(of: index)) } else { option.null() }
                    option.key("percent")
                    if results.showsResults { option.value(results.percentage(of: index)) } else { option.null() }
                }
            }
        }
        body.key("voters")
        if results.showsCounts { body.value(results.voters) } else { body.null() }
        body.key("totalVotes")
        if results.showsCounts { body.value(results.totalVotes) } else { body.null() }
        body.key("ownChoices")
        options(results.ownBallot, &body)
    }

    static func id(_ id: PollID, _ json: inout JSONWriter) { json.value(decimalString: id) }

    static func options(_ ballot: Ballot, _ json: inout JSONWriter) {
        json.array { list in
            for option in ballot.options { list.value(option) }
        }
    }
}
