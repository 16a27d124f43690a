import TallyCore
import TallyHTTP
import TallyStore

/// Canvas' submission, `POST /api/v1/polls/:poll_id/poll_sessions/:id/poll_submissions` with
/// `poll_submissions[][poll_choice_id]=N` (form, as canvasapi sends it; `poll_submission[]` too).
/// One submission per student and session: the session is a single-choice poll without revote,
/// and sending the same choice again is refused too. Made per request (it carries the path's poll
/// id); no Foundation, no allocation.
struct CanvasVotes: VoteDialect {
    let style = CanvasStyle()
    let stats: VoteStats
    let answerID: UInt16
    /// The `:poll_id` of the path: a session is found only under its own poll.
    let template: UnsafeRawBufferPointer

    func decode(_ request: Request, poll: Poll, voter: VoterIdentity, _ response: ResponseWriter) -> DecodedVote? {
        guard poll.label(CanvasJSON.Label.poll, is: template) else {
            style.notFound(response)
            return nil
        }
        var choice: Int64?
        _ = FormBody.forEach(request.body) { name, value in
            if FormBody.nameIs(name, "poll_submissions[][poll_choice_id]") || FormBody.nameIs(name, "poll_submission[][poll_choice_id]") {
                choice = FormBody.integer(value)
            }
            return true
        }
        guard let choice else {
            style.invalid("poll_choice", "can't be blank", response)
            return nil
        }
        // A choice of another poll, or added to the poll after this session began: not found, as
        // Canvas answers a choice that is not the poll's.
        guard let option = CanvasVotes.option(of: choice, in: poll) else {
            style.notFound(response)
            return nil
        }
        var input = BallotInput()
        input.add(option)
        return DecodedVote(input: input)
    }

    /// The option of choice id `choice` in the session.
    static func option(of choice: Int64, in poll: Poll) -> Int? {
        var found: Int?
        forEachChoice(in: poll) { option, id in
            if id == choice { found = option }
            return found == nil
        }
        return found
    }

    /// The choice id of `option`.
    static func choice(of option: Int, in poll: Poll) -> Int64? {
        var found: Int64?
        forEachChoice(in: poll) { index, id in
            if index == option { found = id }
            return found == nil
        }
        return found
    }

    /// Each option's choice id in the session's comma list, in option order, until `body` returns
    /// false; without allocating.
    private static func forEachChoice(in poll: Poll, _ body: (Int, Int64) -> Bool) {
        guard var list = poll.definition.labels[CanvasJSON.Label.choices] else { return }
        list.withUTF8 { bytes in
            var option = 0
            var id: Int64 = 0
            for byte in bytes {
                guard byte == UInt8(ascii: ",") else {
                    id = id &* 10 &+ Int64(byte &- UInt8(ascii: "0"))
                    continue
                }
                guard body(option, id) else { return }
                option += 1
                id = 0
            }
            if !bytes.isEmpty { _ = body(option, id) }
        }
    }

    /// Answers a stored submission: `{"poll_submissions":[…]}`. The same choice sent again is the
    /// second submission Canvas refuses.
    static func answer(_ stored: StoredVote, _ outcome: VoteOutcome, _ poll: Poll, _ response: ResponseWriter) {
        if case .unchanged = outcome { return CanvasStyle().write(VoteRejection.alreadyVoted, response) }
        response.writeJSON(status: 200) { json in
            json.object { root in
                root.key("poll_submissions")
                root.array { list in
                    list.object { item in
                        item.field("id", CanvasJSON.submissionID(poll.id, stored.voter))
                        item.key("poll_choice_id")
                        if let option = stored.ballot.options.first(where: { _ in true }), let choice = choice(of: option, in: poll) {
                            item.value(choice)
                        } else {
                            item.null()
                        }
                        item.field("user_id", CanvasJSON.userID(stored.voter))
                        item.key("created_at")
                        Timestamps.writeJSON(poll.definition.createdAt, to: &item)
                    }
                }
            }
        }
    }
}
