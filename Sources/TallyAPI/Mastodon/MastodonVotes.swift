import TallyCore
import TallyHTTP
import TallyStore

/// Mastodon's vote, `POST /api/v1/polls/:id/votes` with `choices[]` (0-based), form-encoded as
/// Mastodon.py sends it, or JSON `{"choices":[0,"2"]}`. Each vote adds its choices to the voter's
/// ballot (`BallotInput.adds`): Mastodon stores one row per choice. Answered with the Poll entity.
/// No Foundation, no allocation.
struct MastodonVotes: VoteDialect {
    let style = MastodonStyle()
    let stats: VoteStats
    let answerID: UInt16

    func decode(_ request: Request, poll: Poll, voter: VoterIdentity, _ response: ResponseWriter) -> DecodedVote? {
        var input = BallotInput()
        input.adds = true
        var named = false
        let isJSON = request.header("content-type").map { ASCII.startsIgnoringCase($0, "application/json") } ?? false
        // `choices[]=0&choices[]=2` (Rails reads `choices[]` as the array), in the body or the query.
        let wellFormed =
            isJSON
            ? OptionLists.readJSON(request.body, key: "choices", &input, &named)
            : OptionLists.readForm(request.body, name: "choices[]", &input, &named)
        guard wellFormed, named || OptionLists.readForm(request.query, name: "choices[]", &input, &named), named else {
            style.missingChoices(response)
            return nil
        }
        // app/validators/vote_validator.rb: self_vote (config/locales/en.yml, polls.errors.self_vote).
        if poll.isOrganizer(Viewer(voter: voter.key)) {
            style.invalid("Validation failed: You cannot vote in your own polls", response)
            return nil
        }
        return DecodedVote(input: input)
    }

    /// Answers a stored vote with the poll, as the voter sees it now (a voter is never its author:
    /// `decode` refuses that).
    static func answer(_ stored: StoredVote, _ poll: Poll, _ response: ResponseWriter) {
        response.writeJSON(status: 200) { json in
            MastodonEntities.poll(poll, viewer: .anonymous, own: stored.ballot, withUser: true, now: WallClock.now(), &json)
        }
    }
}
