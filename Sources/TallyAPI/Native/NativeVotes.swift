import TallyCore
import TallyHTTP
import TallyStore

/// The native vote, `POST /v1/polls/{id}/votes` with `{"choices":[0,2]}` (0-based options) and, for
/// a private poll, `"token"` in the body or `?token=` in the query. No Foundation, no allocation.
struct NativeVotes: VoteDialect {
    let style = NativeStyle()
    let stats: VoteStats
    let answerID: UInt16

    func decode(_ request: Request, poll: Poll, voter: VoterIdentity, _ response: ResponseWriter) -> DecodedVote? {
        guard let body = NativeVoteBody(parsing: request.body) else {
            response.writeError(status: 400, code: "invalid_body", message: "expected {\"choices\":[option, ...]}")
            return nil
        }
        let token = body.token ?? QueryString.value("token", in: request.query).map(PollToken.init(parsing:))
        return DecodedVote(input: body.input, token: token)
    }

    /// Answers a vote as Redis judged it.
    static func answer(_ stored: StoredVote, _ outcome: VoteOutcome, _ response: ResponseWriter) {
        response.writeJSON(status: 200) { json in
            json.object { body in
                body.key("poll")
                PollJSON.id(stored.poll, &body)
                body.key("choices")
                PollJSON.options(stored.ballot, &body)
                body.field("changed", outcome != .unchanged(stored.ballot))
            }
        }
    }
}

// Reads: the poll as the viewer may see it.
extension NativeAPI {
    /// `GET /v1/polls/{id}` and `/results`.
    func show(_ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desk: PollDesk, resultsOnly: Bool) {
        guard let (poll, viewer, voter) = admit(request, idText, response, desk) else { return }
        let pollID = poll.id
        desk.withBallot(of: voter, in: poll, response) { [registry] response in
            guard let poll = registry.poll(pollID) else { return NativeStyle().write(VoteRejection.unknownPoll, response) }
            let results = poll.results(for: viewer, now: WallClock.now())
            response.writeJSON(status: 200, header: resultsOnly ? nil : ("ETag", poll.version.entityTag)) { json in
                if resultsOnly {
                    PollJSON.results(poll, results, &json)
                } else {
                    PollJSON.poll(poll, results, organizer: poll.isOrganizer(viewer), &json)
                }
            }
        }
    }

    /// `GET /v1/polls/{id}/results/stream`: Server-Sent Events for stage screens. An `event:
    /// results` frame (the `/results` document) now and whenever the results change, at most every
    /// 250 ms; `event: deleted` and the end of the stream if the poll is deleted.
    func streamResults(_ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desk: PollDesk) {
        guard let (poll, viewer, voter) = admit(request, idText, response, desk) else { return }
        let pollID = poll.id
        desk.withBallot(of: voter, in: poll, response) { [registry] response in
            var lastFrame: Int?
            response.startEventStream { events in
                // Read every tick, a streamed poll is never let go of (`PollRegistry.drop`): gone is deleted.
                guard let poll = registry.poll(pollID) else {
                    events.send(event: "deleted") { json in json.object { $0.key("poll"); PollJSON.id(pollID, &$0) } }
                    return false
                }
                let results = poll.results(for: viewer, now: WallClock.now())
                lastFrame = events.send(event: "results", unlessHash: lastFrame) { json in PollJSON.results(poll, results, &json) }
                return true
            }
        }
    }

    /// The poll, who is looking and the voter's identity if any, or nil after answering why not
    /// (unknown poll, bad credential, private poll without its token).
    private func admit(
        _ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desk: PollDesk
    ) -> (Poll, Viewer, VoterIdentity?)? {
        guard let pollID = PollIDs.parse(idText) else {
            style.write(VoteRejection.unknownPoll, response)
            return nil
        }
        guard let poll = desk.find(pollID, response, style) else { return nil }
        let token = QueryString.value("token", in: request.query).map(PollToken.init(parsing:))
        guard let (viewer, voter) = desk.viewer(request, poll, token: token, response, style) else { return nil }
        return (poll, viewer, voter)
    }
}
