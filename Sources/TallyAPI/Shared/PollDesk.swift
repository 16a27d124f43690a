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

    /// A new poll: an id unique across daemons (Redis INCR), saved, installed, answered by `answer`.
    public func create<Style: AnswerStyle>(
        _ definition: PollDefinition, _ lifecycle: Lifecycle, _ response: ResponseWriter, _ style: Style,
        answer: @escaping (Poll, ResponseWriter) -> Void
    ) {
        let later = response.deferred()
        store.newPollID { id in
            guard let id else { return later.complete { style.writeUnavailable($0) } }
            save(id, definition, lifecycle, later, style, answer: answer)
        }
    }

    /// Saves a poll's new definition or lifecycle (`response` deferred by the caller).
    public func save<Style: AnswerStyle>(
        _ id: PollID, _ definition: PollDefinition, _ lifecycle: Lifecycle, _ response: DeferredResponse, _ style: Style,
        answer: @escaping (Poll, ResponseWriter) -> Void
    ) {
        store.savePoll(id, definition, lifecycle) { stored in
            guard stored, let poll = try? registry.install(id: id, definition: definition, lifecycle: lifecycle) else {
                return response.complete { style.writeUnavailable($0) }
            }
            response.complete { answer(poll, $0) }
        }
    }

    /// Deletes a poll with its ballots.
    public func delete<Style: AnswerStyle>(
        _ id: PollID, _ response: ResponseWriter, _ style: Style, answer: @escaping (ResponseWriter) -> Void
    ) {
        guard registry.poll(id) != nil else { return style.write(VoteRejection.unknownPoll, response) }
        let later = response.deferred()
        store.deletePoll(id) { stored in
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
        guard let voter, store.isConnected else { return answer(response) }
        var deferred: DeferredResponse?
        let sent = voter.withBytes { id in
            store.lookUpBallot(poll: poll.id, voterID: id, voter: voter.key) { deferred?.complete(answer) }
        }
        if sent { deferred = response.deferred() } else { answer(response) }
    }
}
