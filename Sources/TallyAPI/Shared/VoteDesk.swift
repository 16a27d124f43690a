import TallyCore
import TallyHTTP
import TallyStore

/// One loop's vote flow, the same for every dialect: gate (Redis can take votes) → credential → poll
/// → gate (the Redis that holds the voter's shard of the poll can) → the dialect's decode → the engine (recorded, not counted) → the store (group commit) →
/// settled by Redis' verdict → answered by the dialect's responder. No Foundation, no allocation,
/// no lock.
public struct VoteDesk {
    let reader: RegistryReader
    let store: LoopStore
    let access: AccessPolicy
    let loader: PollLoader

    /// Takes one vote for `pollID` (nil: the id is not one) in `dialect`.
    public func vote<Dialect: VoteDialect>(
        _ request: Request, poll pollID: PollID?, _ dialect: Dialect, _ response: ResponseWriter
    ) {
        let stats = dialect.stats
        guard let pollID else {
            stats.count(.rejected(.unknownPoll))
            return dialect.style.write(VoteRejection.unknownPoll, response)
        }
        guard store.isTakingVotes else {
            stats.count(.unavailable)
            return dialect.style.writeUnavailable(response)
        }
        let now = WallClock.now()
        let check = access.voter(request, now: now / 1_000_000)
        guard case .voter(let voter) = check else {
            stats.count(.unauthorized)
            return dialect.style.write(check, response)
        }
        reader.withPoll(pollID) { poll in
            guard let poll else {
                // Not held here (closed and let go of, or just created through another daemon).
                if loader.load([pollID], response, dialect.style) { return }
                stats.count(.rejected(.unknownPoll))
                return dialect.style.write(VoteRejection.unknownPoll, response)
            }
            let shard = poll.storeShard(of: voter.key)
            guard store.isTakingVotes(for: shard) else {
                stats.count(.unavailable)
                return dialect.style.writeUnavailable(response)
            }
            guard let decoded = dialect.decode(request, poll: poll, voter: voter, response) else { return stats.count(.malformed) }
            let outcome = poll.vote(decoded.input, by: voter.key, token: decoded.token, now: now, shard: reader.shard, counting: false)
            let previous: Ballot
            let current: Ballot
            switch outcome {
            case .accepted(let before, let after): (previous, current) = (before, after)
            // Sent too: with several daemons, the ballot may have changed through another one.
            case .unchanged(let ballot): (previous, current) = (ballot, ballot)
            case .rejected(let reason):
                stats.count(outcome)
                return dialect.style.write(reason, response)
            }
            let added = decoded.input.adds ? decoded.input.ballot : .empty
            voter.withBytes { id in
                store.submit(
                    shard: shard, voterID: id, voter: voter.key, previous: previous, current: current, added: added,
                    ticket: LoopDesks.ticket(response.deferred(), answerID: dialect.answerID))
            }
        }
    }
}
