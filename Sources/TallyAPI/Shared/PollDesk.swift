import TallyCore
import TallyHTTP
import TallyStore

/// One loop's organizer flow and read flow, the same for every dialect. Writes go to Redis first
/// (which tells the other daemons), then into this daemon's registry, then are answered; reads see
/// the poll as the viewer may, after looking up in Redis the ballot of a voter who may have voted
/// through another daemon. Admin path: closures and allocation allowed.
public struct PollDesk {
    let registry: PollRegistry
    let store: LoopStore
    let access: AccessPolicy
    let loader: PollLoader

    /// The poll `id` as this daemon holds it. If it does not (a closed poll let go of, one just
    /// created through another daemon), nil: Redis is asked and the request handled again once it
    /// answered, or, when Redis was just asked and has no such poll, it is answered unknown in
    /// `style`. Either way the caller returns.
    public func find<Style: AnswerStyle>(_ id: PollID, _ response: ResponseWriter, _ style: Style) -> Poll? {
        if let poll = registry.poll(id) { return poll }
        if !loader.load([id], response, style) { style.write(VoteRejection.unknownPoll, response) }
        return nil
    }

    /// The polls of `ids` this daemon holds or Redis has, in order; nil when Redis is being asked
    /// for some (the request is handled again once it answered).
    public func find<Style: AnswerStyle>(_ ids: [PollID], _ response: ResponseWriter, _ style: Style) -> [Poll]? {
        let missing = ids.filter { registry.poll($0) == nil }
        if !missing.isEmpty && loader.load(missing, response, style) { return nil }
        return ids.compactMap { registry.poll($0) }
    }

    /// What a listing found; nil when some polls it may include were let go of and are being
    /// loaded (the request is handled again once they are).
    public func listed<Style: AnswerStyle>(_ listing: PollListing, _ response: ResponseWriter, _ style: Style) -> (polls: [Poll], more: Bool)? {
        switch listing {
        case .polls(let polls, let more): return (polls, more)
        case .load(let ids):
            // Loaded polls are held a while, so a second pass finds them; if it does not, Redis failed us.
            if !loader.load(ids, response, style) { style.writeUnavailable(response) }
            return nil
        }
    }

    /// A new poll: an id unique across daemons (Redis INCR), saved, installed, answered by `answer`.
    public func create<Style: AnswerStyle>(
        _ definition: PollDefinition, _ lifecycle: Lifecycle, _ response: ResponseWriter, _ style: Style,
        answer: @escaping (Poll, ResponseWriter) -> Void
    ) {
        create({ _ in definition }, lifecycle, response, style, answer: answer)
    }

    /// The same for a definition that names its own id (a dialect's id made from it).
    public func create<Style: AnswerStyle>(
        _ definition: @escaping (PollID) -> PollDefinition, _ lifecycle: Lifecycle, _ response: ResponseWriter, _ style: Style,
        answer: @escaping (Poll, ResponseWriter) -> Void
    ) {
        let later = response.deferred()
        store.newPollID { id in
            guard let id else { return later.complete { style.writeUnavailable($0) } }
            save(id, definition(id), lifecycle, later, style, expected: nil, answer: answer)
        }
    }

    /// Saves a poll's new definition or lifecycle (`response` deferred by the caller), if Redis
    /// still has it at version `expected` (the poll the change was made from; a client's
    /// `If-Match` when `expected` came from one): a change made on a stale view is answered
    /// `changedMeanwhile` (`preconditionFailed` for the client's version), never saved over the
    /// newer one. With `refusedIfVoted`, only while nobody has a ballot in it; else that error is
    /// the answer. A poll's shards in Redis are fixed when it is created: a new poll that names
    /// none gets the daemon's default (`LoopStore.defaultShards`), a change keeps the poll's.
    public func save<Style: AnswerStyle>(
        _ id: PollID, _ definition: PollDefinition, _ lifecycle: Lifecycle, _ response: DeferredResponse, _ style: Style,
        expected: PollVersion?, fromClient: Bool = false, refusedIfVoted: AdminError? = nil, answer: @escaping (Poll, ResponseWriter) -> Void
    ) {
        var definition = definition
        if let existing = registry.poll(id) {
            definition.shards = existing.storeShards.count
        } else if definition.shards == 0 {
            definition.shards = store.defaultShards(expectedVoters: definition.expectedVoters)
        }
        store.savePoll(id, definition, lifecycle, expected: expected, ifUnvoted: refusedIfVoted != nil) { saved in
            let refusal: AdminError
            switch saved {
            case .saved(let revision):
                guard let poll = try? registry.install(id: id, definition: definition, lifecycle: lifecycle, revision: revision) else {
                    return response.complete { style.writeUnavailable($0) }
                }
                return response.complete { answer(poll, $0) }
            case .changed(nil): refusal = .unknownPoll
            case .changed: refusal = fromClient ? .preconditionFailed : .changedMeanwhile
            case .voted: refusal = refusedIfVoted ?? .changedMeanwhile
            case .unavailable: return response.complete { style.writeUnavailable($0) }
            }
            response.complete { style.write(refusal, $0) }
        }
    }

    /// Deletes a poll with its ballots.
    public func delete<Style: AnswerStyle>(
        _ id: PollID, _ response: ResponseWriter, _ style: Style, answer: @escaping (ResponseWriter) -> Void
    ) {
        guard let poll = find(id, response, style) else { return }
        let later = response.deferred()
        store.deletePoll(poll.storeShards) { stored in
            guard stored else { return later.complete { style.writeUnavailable($0) } }
            registry.forget(id)
            later.complete(answer)
        }
    }

    /// Who is reading: an organizer, a voter (with the poll's token checked), or anyone. Nil after
    /// answering a bad credential or a private poll without its token.
    public func viewer<Style: AnswerStyle>(
        _ request: Request, _ poll: Poll, token: PollToken?, _ response: ResponseWriter, _ style: Style
    ) -> (Viewer, VoterIdentity?)? {
        guard let (viewer, voter) = access.caller(request, response, style, required: false) else { return nil }
        if !viewer.isOrganizer, let refused = poll.checkToken(token) {
            style.write(refused, response)
            return nil
        }
        return (viewer, voter)
    }

    /// Answers with `answer` once this daemon has `voter`'s ballot in `poll` from Redis (one HGET):
    /// they may have voted through another daemon since, and `afterVote` results and their own
    /// choices depend on it. At once for anonymous readers, or if Redis cannot be asked.
    public func withBallot(of voter: VoterIdentity?, in poll: Poll, _ response: ResponseWriter, answer: @escaping (ResponseWriter) -> Void) {
        withBallots(of: voter, in: [poll], response, answer: answer)
    }

    /// The same for the voter's ballots in several polls (one HGET each, pipelined).
    public func withBallots(of voter: VoterIdentity?, in polls: [Poll], _ response: ResponseWriter, answer: @escaping (ResponseWriter) -> Void) {
        guard let voter, store.isConnected else { return answer(response) }
        // Replies come on a later turn of the loop, after `deferred` is set.
        var deferred: DeferredResponse?
        var pending = 0
        for poll in polls {
            let sent = voter.withBytes { id in
                store.lookUpBallot(shard: poll.storeShard(of: voter.key), voterID: id, voter: voter.key) {
                    pending -= 1
                    if pending == 0 { deferred?.complete(answer) }
                }
            }
            if sent { pending += 1 }
        }
        if pending > 0 { deferred = response.deferred() } else { answer(response) }
    }
}
