import TallyCore
import TallyHTTP
import TallyStore

/// pnut's response to a poll: `PUT /polls/{id}/response/{positions}` (what pnutpy sends: no body;
/// a comma list such as `1,3` for several positions) or `PUT /polls/{id}/response` with `positions`
/// in a JSON body (`{"positions":[1,3]}`) or the query (`positions=1,3`, or repeated). Positions
/// count from 1; a response replaces the last one and an empty one clears it (pnut polls are
/// created with revote on). A private poll wants `poll_token` in the query, except from its
/// creator. Made per request (it carries the path's positions); no Foundation, no allocation.
struct PnutVotes: VoteDialect {
    let style = PnutStyle()
    let stats: VoteStats
    let answerID: UInt16
    /// The `{positions}` path segment, if the route has one.
    let pathPositions: UnsafeRawBufferPointer?

    func decode(_ request: Request, poll: Poll, voter: VoterIdentity, _ response: ResponseWriter) -> DecodedVote? {
        var input = BallotInput()
        var given = false
        var wellFormed = true
        if let pathPositions {
            given = true
            wellFormed = PnutVotes.readList(pathPositions, &input)
        } else if !ASCII.trimmed(request.body).isEmpty {
            wellFormed = PnutVotes.readJSON(request.body, &input, &given)
        }
        if wellFormed && !given {
            wellFormed = PnutVotes.readQuery(request.query, &input, &given)
        }
        guard wellFormed else {
            style.error(400, "positions must be whole numbers: a list, or separated by commas.", response)
            return nil
        }
        guard given else {
            style.error(400, "positions is required (empty clears the response).", response)
            return nil
        }
        // The creator has access to their own private poll without its token.
        var token = QueryString.value("poll_token", in: request.query).map(PollToken.init(parsing:))
        if poll.isOrganizer(Viewer(voter: voter.key)) { token = poll.definition.rules.token }
        return DecodedVote(input: input, token: token)
    }

    /// `1,3` (commas may come percent-encoded, `%2C`); an empty list clears.
    static func readList(_ text: UnsafeRawBufferPointer, _ input: inout BallotInput) -> Bool {
        var rest = text
        while !rest.isEmpty {
            var end = rest.count
            var skip = 0
            for index in 0..<rest.count {
                if rest[index] == UInt8(ascii: ",") {
                    (end, skip) = (index, 1)
                    break
                }
                if rest[index] == UInt8(ascii: "%"), index + 2 < rest.count, rest[index + 1] == UInt8(ascii: "2"),
                    ASCII.lowercased(rest[index + 2]) == UInt8(ascii: "c")
                {
                    (end, skip) = (index, 3)
                    break
                }
            }
            guard let position = ASCII.parseUInt64(ASCII.trimmed(UnsafeRawBufferPointer(rebasing: rest[0..<end]))) else { return false }
            input.add(Int(clamping: position) - 1)
            rest = UnsafeRawBufferPointer(rebasing: rest[min(end + skip, rest.count)...])
        }
        return true
    }

    /// `{"positions":[1,3]}`, or the comma list as a string.
    static func readJSON(_ bytes: UnsafeRawBufferPointer, _ input: inout BallotInput, _ given: inout Bool) -> Bool {
        var scanner = JSONScanner(bytes)
        return scanner.readObject { key, value in
            guard JSONScanner.keyIs(key, "positions"), !given else { return value.skipValue() }
            given = true
            if value.nextIsString() {
                guard let list = value.readStringBytes() else { return false }
                return readList(list, &input)
            }
            return value.readArray { element in
                guard let position = element.readInteger() else { return false }
                input.add(Int(clamping: position) - 1)
                return true
            }
        }
    }

    /// `positions=1,3`, `positions=1&positions=3` or `positions[]=1&positions[]=3`.
    static func readQuery(_ query: UnsafeRawBufferPointer, _ input: inout BallotInput, _ given: inout Bool) -> Bool {
        FormBody.forEach(query) { name, value in
            guard FormBody.nameIs(name, "positions") || FormBody.nameIs(name, "positions[]") else { return true }
            given = true
            return readList(value, &input)
        }
    }

    /// Answers a stored response with the poll as the respondent now sees it. A private poll's
    /// token is shown: the respondent passed it (or created the poll). `respondent_ids` are left
    /// out here (reading them would cost every response a look-up of all ballots): read the poll.
    static func answer(_ stored: StoredVote, _ poll: Poll, _ response: ResponseWriter) {
        PnutStyle().write(response) { json in
            PnutPollJSON.poll(
                poll, viewer: Viewer(voter: stored.voter), own: stored.ballot, showsToken: true, respondents: nil, now: WallClock.now(), &json)
        }
    }
}
