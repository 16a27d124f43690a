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
        let wellFormed = isJSON ? MastodonVotes.readJSON(request.body, &input, &named) : MastodonVotes.readForm(request.body, &input, &named)
        guard wellFormed, named || MastodonVotes.readForm(request.query, &input, &named), named else {
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

    /// `choices[]=0&choices[]=2` (Rails reads `choices[]` as the array). False on a choice that is
    /// not a number.
    static func readForm(_ bytes: UnsafeRawBufferPointer, _ input: inout BallotInput, _ named: inout Bool) -> Bool {
        FormBody.forEach(bytes) { name, value in
            guard FormBody.nameIs(name, "choices[]") else { return true }
            guard let choice = FormBody.integer(value) else { return false }
            input.add(Int(clamping: choice))
            named = true
            return true
        }
    }

    /// `{"choices":[0,"2"]}`: numbers or strings of digits, as Rails' `Integer(choice)` takes them.
    static func readJSON(_ bytes: UnsafeRawBufferPointer, _ input: inout BallotInput, _ named: inout Bool) -> Bool {
        var scanner = JSONScanner(bytes)
        return scanner.readObject { key, value in
            guard JSONScanner.keyIs(key, "choices") else { return value.skipValue() }
            return value.readArray { element in
                let choice: Int64?
                if element.nextIsString() {
                    choice = element.readStringBytes().flatMap { ASCII.parseUInt64($0) }.map { Int64(clamping: $0) }
                } else {
                    choice = element.readInteger()
                }
                guard let choice else { return false }
                input.add(Int(clamping: choice))
                named = true
                return true
            }
        }
    }

    /// Answers a stored vote with the poll, as the voter sees it now (a voter is never its author:
    /// `decode` refuses that).
    static func answer(_ stored: StoredVote, _ poll: Poll, _ response: ResponseWriter) {
        response.writeJSON(status: 200) { json in
            MastodonEntities.poll(poll, viewer: .anonymous, own: stored.ballot, withUser: true, now: WallClock.now(), &json)
        }
    }
}
