import TallyCore
import TallyHTTP
import TallyStore

/// One loop's desks, shared by every dialect installed on that loop: the vote desk, the poll desk,
/// and the answers to stored votes. The store hands each judged vote back with its ticket
/// (`LoopStore.onStored`); the ticket names the vote's response and the dialect that answers it.
public final class LoopDesks {
    public let votes: VoteDesk
    public let polls: PollDesk
    public let reader: RegistryReader
    public let store: LoopStore
    private var answers: [(StoredVote, ResponseWriter) -> Void] = []

    public init(registry: PollRegistry, reader: RegistryReader, store: LoopStore, access: AccessPolicy) {
        self.reader = reader
        self.store = store
        let loader = PollLoader(registry: registry, reader: reader, store: store)
        votes = VoteDesk(reader: reader, store: store, access: access, loader: loader)
        polls = PollDesk(registry: registry, store: store, access: access, loader: loader)
        // The store keeps the desks (and they it) for the loop's whole life.
        store.onStored = { stored, ticket in self.answer(stored, ticket) }
    }

    /// Registers how a dialect answers its stored votes; its votes carry the returned id. The desk
    /// counts each outcome in `stats` and answers, in `style`, a vote Redis could not store or
    /// refused; `stored` writes the answer to one it accepted (or found unchanged).
    public func addAnswer<Style: AnswerStyle>(
        _ style: Style, stats: VoteStats, stored: @escaping (StoredVote, VoteOutcome, ResponseWriter) -> Void
    ) -> UInt16 {
        answers.append { vote, response in
            guard let outcome = vote.outcome else {
                stats.count(.unavailable)
                return style.writeUnavailable(response)
            }
            stats.count(outcome)
            if case .rejected(let reason) = outcome { return style.write(reason, response) }
            stored(vote, outcome, response)
        }
        return UInt16(answers.count - 1)
    }

    /// The same for a dialect that answers with the poll: `stored` gets it as this loop has it now
    /// (a poll deleted meanwhile is answered as unknown, in `style`).
    public func addPollAnswer<Style: AnswerStyle>(
        _ style: Style, stats: VoteStats, stored: @escaping (StoredVote, VoteOutcome, Poll, ResponseWriter) -> Void
    ) -> UInt16 {
        addAnswer(style, stats: stats) { [reader] vote, outcome, response in
            reader.withPoll(vote.poll) { poll in
                guard let poll else { return style.write(VoteRejection.unknownPoll, response) }
                stored(vote, outcome, poll, response)
            }
        }
    }

    /// The ticket of a vote whose answer `response` writes, by the dialect `answerID`.
    static func ticket(_ response: DeferredResponse, answerID: UInt16) -> VoteTicket {
        VoteTicket(pointer: response.retainedPointer, tag: UInt32(answerID) << 1 | (response.isHeadRequest ? 1 : 0))
    }

    private func answer(_ stored: StoredVote, _ ticket: VoteTicket) {
        DeferredResponse(resuming: ticket.pointer, isHead: ticket.tag & 1 != 0).complete { answers[Int(ticket.tag >> 1)](stored, $0) }
    }
}
