import TallyCore
import TallyHTTP
import TallyStore

/// Talk's vote, `POST …/poll/{token}/{pollId}` with `{"optionIds":[0,2]}` (0-based, as Talk's
/// option ids are), or form-encoded `optionIds[]=0`. A vote replaces the caller's ballot and an
/// empty list withdraws it (`PollService::votePoll`; Talk polls are created with revote on). No
/// `optionIds` at all is an empty list, as the controller's default has it; a body that is not
/// JSON is refused (400) rather than read as a withdrawal. Answered with the Poll. Made per
/// request (it carries the room of the path); no Foundation, no allocation.
struct NextcloudVotes: VoteDialect {
    let style: NextcloudStyle
    let stats: VoteStats
    let answerID: UInt16
    /// The `{token}` of the path: a poll is found only in its own room.
    let room: UnsafeRawBufferPointer

    func decode(_ request: Request, poll: Poll, voter: VoterIdentity, _ response: ResponseWriter) -> DecodedVote? {
        guard poll.label(NextcloudPollJSON.roomLabel, is: room) else {
            style.write(VoteRejection.unknownPoll, response)
            return nil
        }
        var input = BallotInput()
        let body = request.body
        let isForm = request.header("content-type").map { ASCII.startsIgnoringCase($0, "application/x-www-form-urlencoded") } ?? false
        var named = false  // no `optionIds` is an empty list
        let wellFormed =
            ASCII.trimmed(body).isEmpty
            || (isForm
                ? OptionLists.readForm(body, name: "optionIds[]", &input, &named) : OptionLists.readJSON(body, key: "optionIds", &input, &named))
        guard wellFormed else {
            style.writeEmpty(status: 400, response)
            return nil
        }
        return DecodedVote(input: input)
    }

    /// Answers a stored vote with the poll as the voter now sees it, `votedSelf` their stored ballot.
    static func answer(_ stored: StoredVote, _ poll: Poll, _ response: ResponseWriter, style: NextcloudStyle, fragments: DefinitionFragments) {
        style.write(status: 200, response) { json in
            NextcloudPollJSON.poll(poll, .voter(stored.voter, ballot: stored.ballot), details: nil, now: WallClock.now(), fragments: fragments, &json)
        }
    }
}
