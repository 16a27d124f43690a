import TallyCore
import TallyHTTP

/// Talk's Poll object, as `PollController::renderPoll` and `Model/Poll::renderAsPoll` write it
/// (nextcloud/spreed), from an engine poll. Fields in upstream's order; no allocation (the vote's
/// answer writes it).
enum NextcloudPollJSON {
    /// The room (conversation token) a poll belongs to, a label of its definition.
    static let roomLabel = "room"

    /// Who reads: `moderator` for an organizer credential, else the voter; `ownBallot` is theirs.
    struct Reader {
        var viewer: Viewer
        var ownBallot: Ballot

        static func voter(_ key: VoterKey, ballot: Ballot) -> Reader { Reader(viewer: Viewer(voter: key), ownBallot: ballot) }
    }

    /// Talk's status: 0 open, 1 closed, 2 draft.
    static func status(_ poll: Poll, now: Timestamp) -> Int {
        if poll.lifecycle == .draft { return 2 }
        return poll.isClosed(at: now) ? 1 : 0
    }

    /// Talk's result mode: 0 public (counts once voted, who chose what after close), 1 hidden
    /// (counts after close).
    static func resultMode(_ poll: Poll) -> Int {
        switch poll.definition.rules.visibility {
        case .always, .afterVote: 0
        case .afterClose, .organizerOnly: 1
        }
    }

    /// `renderAsDraft`: what a draft shows, and the first fields of every poll.
    static func draft(_ poll: Poll, now: Timestamp, _ json: inout JSONWriter) {
        json.object { draftFields(poll, now: now, fragments: nil, &$0) }
    }

    private static func draftFields(_ poll: Poll, now: Timestamp, fragments: DefinitionFragments?, _ body: inout JSONWriter) {
        if let fragments {
            fragments.members(of: poll, into: &body) { definitionFields(poll, &$0) }
        } else {
            definitionFields(poll, &body)
        }
        body.field("status", status(poll, now: now))
        body.field("resultMode", resultMode(poll))
        body.field("maxVotes", poll.definition.rules.maxVotes)
    }

    /// The first fields, which the definition alone decides (up to the author).
    private static func definitionFields(_ poll: Poll, _ body: inout JSONWriter) {
        let definition = poll.definition
        body.field("id", Int64(bitPattern: poll.id))
        body.field("question", string: definition.question)
        body.key("options")
        body.array { options in
            for title in definition.options { options.value(string: title) }
        }
        author(definition.organizer, &body)
    }

    /// `actorType`, `actorId`, `actorDisplayName` of a participant (Tally's voter ids are Talk's
    /// user ids and display names).
    static func author(_ id: String?, _ body: inout JSONWriter) {
        body.field("actorType", "users")
        body.field("actorId", string: id ?? "")
        body.field("actorDisplayName", string: id ?? "")
    }

    /// The poll as `reader` may see it. While it is open, results show only to a voter who voted on
    /// a public poll; the author and moderators still see how many voted. `details` (who chose
    /// what, voter id and ballot) is written for closed public polls when given.
    /// `fragments`: the loop's copy of each definition's fields (the vote's answer), or nil.
    static func poll(
        _ poll: Poll, _ reader: Reader, details: [(voter: String, ballot: Ballot)]?, now: Timestamp, fragments: DefinitionFragments? = nil,
        _ json: inout JSONWriter
    ) {
        let results = poll.results(for: reader.viewer, now: now)
        let isPublic = resultMode(poll) == 0
        let open = status(poll, now: now) == 0
        let showsVotes = (!open || (isPublic && !reader.ownBallot.isEmpty)) && results.showsCounts
        json.object { body in
            draftFields(poll, now: now, fragments: fragments, &body)
            body.key("votes")
            if showsVotes && results.totalVotes > 0 {
                body.object { votes in
                    for option in 0..<results.optionCount where results.count(of: option) > 0 {
                        votes.key("option-", number: option)
                        votes.value(results.count(of: option))
                    }
                }
            } else {
                body.array { _ in }  // PHP's empty array
            }
            let seesVoters = showsVotes || (open && poll.isOrganizer(reader.viewer))
            body.field("numVoters", seesVoters ? results.voters : 0)
            if let details, isPublic, !open {
                body.key("details")
                body.array { list in
                    for (voter, ballot) in details {
                        for option in ballot.options {
                            list.object { detail in
                                author(voter, &detail)
                                detail.field("optionId", option)
                            }
                        }
                    }
                }
            }
            body.key("votedSelf")
            body.array { own in
                for option in reader.ownBallot.options { own.value(option) }
            }
        }
    }
}
