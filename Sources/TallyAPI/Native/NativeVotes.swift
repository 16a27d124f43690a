import TallyCore
import TallyHTTP
import TallyStore

// The vote path: no Foundation, no allocation, no lock.
extension NativeAPI {
    /// `POST /v1/polls/{id}/votes` with `{"choices":[0,2]}` (0-based options) and, for a private
    /// poll, `"token"` in the body or `?token=` in the query.
    /// The answer is written when Redis has stored the vote (or refused it).
    func vote(_ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ context: VoteContext) {
        let stats = context.stats
        guard let pollID = PollIDs.parse(idText) else { return response.write(VoteRejection.unknownPoll) }
        guard context.store.isTakingVotes else {
            stats.count(.unavailable)
            return response.writeUnavailable()
        }
        let now = WallClock.now()
        let check = access.voter(request, now: now / 1_000_000)
        guard case .voter(let voter) = check else {
            stats.count(.unauthorized)
            return response.write(check)
        }
        guard let body = NativeVoteBody(parsing: request.body) else {
            stats.count(.malformed)
            return response.writeError(status: 400, code: "invalid_body", message: "expected {\"choices\":[option, ...]}")
        }
        let token = body.token ?? QueryString.value("token", in: request.query).map(PollToken.init(parsing:))
        let outcome = context.reader.vote(body.input, poll: pollID, by: voter.key, token: token, now: now, counting: false)
        let previous: Ballot
        let current: Ballot
        switch outcome {
        case .accepted(let before, let after): (previous, current) = (before, after)
        // Sent too: with several daemons, the ballot may have changed through another one.
        case .unchanged(let ballot): (previous, current) = (ballot, ballot)
        case .rejected(let reason):
            stats.count(outcome)
            return response.write(reason)
        }
        voter.withBytes { id in
            context.store.submit(
                poll: pollID, voterID: id, voter: voter.key, previous: previous, current: current,
                response: response.deferred(), responder: context.responder)
        }
    }

    /// Answers a vote as Redis judged it.
    static func answer(_ stored: StoredVote, _ response: ResponseWriter, stats: VoteStats) {
        guard let outcome = stored.outcome else {
            stats.count(.unavailable)
            return response.writeUnavailable()
        }
        stats.count(outcome)
        switch outcome {
        case .accepted, .unchanged:
            response.writeJSON(status: 200) { json in
                json.object { body in
                    body.key("poll")
                    PollJSON.id(stored.poll, &body)
                    body.key("choices")
                    PollJSON.options(stored.ballot, &body)
                    body.field("changed", outcome != .unchanged(stored.ballot))
                }
            }
        case .rejected(let reason):
            response.write(reason)
        }
    }

    /// `GET /v1/polls/{id}` and `/results`: the poll as this viewer may see it.
    func show(
        _ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, reader: RegistryReader, store: LoopStore,
        resultsOnly: Bool
    ) {
        guard let (poll, viewer, identity) = admit(request, idText, response, reader: reader) else { return }
        if let identity, NativeAPI.mayHaveVotedElsewhere(identity, poll, store) {
            let pollID = poll.id
            return lookUp(identity, in: poll, response, store) { response in
                guard let poll = reader.poll(pollID) else { return response.write(VoteRejection.unknownPoll) }
                NativeAPI.writeShow(poll, viewer, response, resultsOnly: resultsOnly)
            }
        }
        NativeAPI.writeShow(poll, viewer, response, resultsOnly: resultsOnly)
    }

    private static func writeShow(_ poll: Poll, _ viewer: Viewer, _ response: ResponseWriter, resultsOnly: Bool) {
        let results = poll.results(for: viewer, now: WallClock.now())
        response.writeJSON(status: 200) { json in
            if resultsOnly {
                PollJSON.results(poll, results, &json)
            } else {
                PollJSON.poll(poll, results, organizer: poll.isOrganizer(viewer), &json)
            }
        }
    }

    /// `GET /v1/polls/{id}/results/stream`: Server-Sent Events for stage screens. An `event:
    /// results` frame (the `/results` document) now and whenever the results change, at most every
    /// 250 ms; `event: deleted` and the end of the stream if the poll is deleted.
    func streamResults(
        _ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, reader: RegistryReader, store: LoopStore
    ) {
        guard let (poll, viewer, identity) = admit(request, idText, response, reader: reader) else { return }
        let pollID = poll.id
        let stream: (ResponseWriter) -> Void = { response in
            var lastFrame: Int?
            response.startEventStream { events in
                guard let poll = reader.poll(pollID) else {
                    events.send(event: "deleted") { json in json.object { $0.key("poll"); PollJSON.id(pollID, &$0) } }
                    return false
                }
                let results = poll.results(for: viewer, now: WallClock.now())
                lastFrame = events.send(event: "results", unlessHash: lastFrame) { json in PollJSON.results(poll, results, &json) }
                return true
            }
        }
        guard let identity, NativeAPI.mayHaveVotedElsewhere(identity, poll, store) else { return stream(response) }
        lookUp(identity, in: poll, response, store, then: stream)
    }

    /// Whether `identity` is a voter this daemon has no record of in `poll`, who may have voted
    /// through another daemon: their ballot decides what they see (`afterVote`) and is shown to
    /// them, so Redis is asked first (if it can be).
    private static func mayHaveVotedElsewhere(_ identity: VoterIdentity, _ poll: Poll, _ store: LoopStore) -> Bool {
        !poll.knowsBallot(of: identity.key) && store.isConnected
    }

    /// Looks the voter's ballot up in Redis, then answers with `then` (at once if the lookup cannot
    /// be sent; its reply never comes before this handler returns).
    private func lookUp(
        _ identity: VoterIdentity, in poll: Poll, _ response: ResponseWriter, _ store: LoopStore,
        then answer: @escaping (ResponseWriter) -> Void
    ) {
        var deferred: DeferredResponse?
        let sent = identity.withBytes { id in
            store.lookUpBallot(poll: poll.id, voterID: id, voter: identity.key) { deferred?.complete(answer) }
        }
        if sent { deferred = response.deferred() } else { answer(response) }
    }

    /// The poll, who is looking and the voter's identity if any, or nil after answering why not
    /// (unknown poll, bad credential, private poll without its token). Organizers need no poll token.
    private func admit(
        _ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, reader: RegistryReader
    ) -> (Poll, Viewer, VoterIdentity?)? {
        guard let pollID = PollIDs.parse(idText), let poll = reader.poll(pollID) else {
            response.write(VoteRejection.unknownPoll)
            return nil
        }
        var viewer = Viewer(isOrganizer: access.isOrganizer(request))
        var voter: VoterIdentity?
        if !viewer.isOrganizer {
            let check = access.voter(request, now: WallClock.now() / 1_000_000)
            switch check {
            case .voter(let identity):
                viewer.voter = identity.key
                voter = identity
            case .missing: break
            case .invalid, .expired:
                response.write(check)
                return nil
            }
            let token = QueryString.value("token", in: request.query).map(PollToken.init(parsing:))
            if let refused = poll.checkToken(token) {
                response.write(refused)
                return nil
            }
        }
        return (poll, viewer, voter)
    }
}
