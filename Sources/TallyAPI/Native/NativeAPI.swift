import TallyCore
import TallyHTTP
import TallyStore

/// Tally's own JSON API, `/v1/…`, over the engine. One instance; `install` adds its routes to each
/// loop's router, on that loop's desks.
public final class NativeAPI: Sendable {
    let registry: PollRegistry
    let access: AccessPolicy
    /// Each loop's vote outcomes.
    public let voteStats: [VoteStats]
    let style = NativeStyle()

    public init(registry: PollRegistry, access: AccessPolicy) {
        self.registry = registry
        self.access = access
        voteStats = (0..<registry.shardCount).map { _ in VoteStats() }
    }

    /// Adds the routes to one loop's router (the root group, whose errors it answers), on that
    /// loop's desks.
    public func install(on router: Router, _ desks: LoopDesks) {
        let stats = voteStats[desks.reader.shard]
        let style = style
        let answerID = desks.addAnswer(style, stats: stats) { stored, outcome, response in NativeVotes.answer(stored, outcome, response) }
        let dialect = NativeVotes(stats: stats, answerID: answerID)
        let votes = desks.votes
        let polls = desks.polls
        router.add(.post, "/v1/polls/{id}/votes") { request, parameters, response in
            votes.vote(request, poll: PollIDs.parse(parameters[0]), dialect, response)
        }
        router.add(.get, "/v1/polls/{id}") { [self] request, parameters, response in
            show(request, parameters[0], response, polls, resultsOnly: false)
        }
        router.add(.get, "/v1/polls/{id}/results") { [self] request, parameters, response in
            show(request, parameters[0], response, polls, resultsOnly: true)
        }
        router.add(.get, "/v1/polls/{id}/results/stream") { [self] request, parameters, response in
            streamResults(request, parameters[0], response, polls)
        }
        router.add(.post, "/v1/polls") { [self] request, _, response in
            organizer(request, response) { create(request, response, polls) }
        }
        router.add(.get, "/v1/polls") { [self] request, _, response in
            organizer(request, response) { list(request, response, polls) }
        }
        router.add(.patch, "/v1/polls/{id}") { [self] request, parameters, response in
            organizer(request, response) { update(request, parameters[0], response, polls) }
        }
        router.add(.delete, "/v1/polls/{id}") { [self] request, parameters, response in
            organizer(request, response) { delete(parameters[0], response, polls) }
        }
        for action in LifecycleAction.allCases {
            router.add(.post, "/v1/polls/{id}/\(action.rawValue)") { [self] request, parameters, response in
                organizer(request, response) { transition(action, request, parameters[0], response, polls) }
            }
        }
    }

    /// Runs `body` only for organizers; others get 401 (no credential) or 403 (a voter's).
    func organizer(_ request: Request, _ response: ResponseWriter, _ body: () -> Void) {
        if access.isOrganizer(request) {
            body()
        } else {
            style.write(AccessPolicy.bearer(request) == nil ? .credentialsRequired : .forbidden, response)
        }
    }
}
