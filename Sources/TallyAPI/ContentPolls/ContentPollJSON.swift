import TallyCore
import TallyHTTP

/// A content poll as the document's examples write it, field for field and in their order
/// (`settings`, `options`, `description`, `id`, `title`), then Tally's extensions: `tallyId`, the
/// engine poll's id (a decimal string, as the native API writes ids) for votes through
/// `POST /v1/polls/{tallyId}/votes`; with `expand=results`, `results`.
enum ContentPollJSON {
    static func poll(_ poll: ContentPoll, tallyID: PollID, results: ResultsView?, _ json: inout JSONWriter) {
        json.object { body in
            body.key("settings")
            body.object { settings in
                let values = poll.settings
                settings.field("allowSelectionOfMultipleOptions", values.allowSelectionOfMultipleOptions)
                settings.field("resultsVisibility", string: values.resultsVisibility.rawValue)
                settings.field("endDate", string: values.endDate)
                settings.field("hideAbsoluteNumbers", values.hideAbsoluteNumbers)
                settings.field("allowRevote", values.allowRevote)
                settings.field("saveParticipantNames", values.saveParticipantNames)
                settings.field("closePollOnEndDate", values.closePollOnEndDate)
                settings.field("allowComment", values.allowComment)
            }
            body.key("options")
            body.array { options in
                for option in poll.options {
                    options.object { fields in
                        fields.field("id", string: option.id)
                        fields.field("title", string: option.title)
                        fields.field("order", option.order)
                    }
                }
            }
            body.field("description", string: poll.description)
            body.field("id", string: poll.id)
            body.field("title", string: poll.title)
            body.key("tallyId")
            body.value(string: String(tallyID))
            if let results { self.results(results, poll.options, &body) }
        }
    }

    /// `results`: `visible`; `unit`, "votes" or, where only percentages show
    /// (`hideAbsoluteNumbers` for all but organizers), "percent"; `options`, option id → votes or
    /// percent (null while hidden); `voters` (null unless votes show); `ownChoices`, the option
    /// ids of the viewer's ballot.
    private static func results(_ results: ResultsView, _ options: [ContentOption], _ body: inout JSONWriter) {
        body.key("results")
        body.object { fields in
            fields.field("visible", results.showsResults)
            fields.field("unit", results.showsCounts || !results.showsResults ? "votes" : "percent")
            fields.key("options")
            if results.showsResults {
                fields.object { counts in
                    for (index, option) in options.enumerated() {
                        counts.key(string: option.id)
                        counts.value(results.showsCounts ? Int(results.count(of: index)) : results.percentage(of: index))
                    }
                }
            } else {
                fields.null()
            }
            fields.key("voters")
            if results.showsCounts { fields.value(results.voters) } else { fields.null() }
            fields.key("ownChoices")
            fields.array { own in
                for index in results.ownBallot.options where index < options.count { own.value(string: options[index].id) }
            }
        }
    }
}
