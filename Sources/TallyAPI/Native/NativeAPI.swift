import TallyCore
import TallyHTTP
import TallyStore

/// Tally's own JSON API, `/v1/…`, over the engine. One instance; `install` adds its routes to each
/// loop's router with that loop's registry reader.
public final class NativeAPI: Sendable {
    let registry: PollRegistry
    let access: AccessPolicy
    let voteStats: [VoteStats]

    public init(registry: PollRegistry, access: AccessPolicy) {
        self.registry = registry
        self.access = access
        voteStats = (0..<registry.shardCount).map { _ in VoteStats() }
    }

    /// Adds the routes to one loop's router; votes and organizer changes go through that loop's
    /// `store`, and `reader` is the loop's view of the registry.
    public func install(on router: Router, reader: RegistryReader, store: LoopStore) {
        let stats = voteStats[reader.shard]
        let responder = store.addResponder { stored, response in NativeAPI.answer(stored, response, stats: stats) }
        let votes = VoteContext(reader: reader, store: store, stats: stats, responder: responder)
        router.add(.post, "/v1/polls/{id}/votes") { [self] request, parameters, response in
            vote(request, parameters[0], response, votes)
        }
        router.add(.get, "/v1/polls/{id}") { [self] request, parameters, response in
            show(request, parameters[0], response, reader: reader, store: store, resultsOnly: false)
        }
        router.add(.get, "/v1/polls/{id}/results") { [self] request, parameters, response in
            show(request, parameters[0], response, reader: reader, store: store, resultsOnly: true)
        }
        router.add(.get, "/v1/polls/{id}/results/stream") { [self] request, parameters, response in
            streamResults(request, parameters[0], response, reader: reader, store: store)
        }
        router.add(.post, "/v1/polls") { [self] request, _, response in
            organizer(request, response) { create(request, response, store) }
        }
        router.add(.get, "/v1/polls") { [self] request, _, response in
            organizer(request, response) { list(request, response) }
        }
        router.add(.patch, "/v1/polls/{id}") { [self] request, parameters, response in
            organizer(request, response) { update(request, parameters[0], response, store) }
        }
        router.add(.delete, "/v1/polls/{id}") { [self] request, parameters, response in
            organizer(request, response) { delete(parameters[0], response, store) }
        }
        for action in LifecycleAction.allCases {
            router.add(.post, "/v1/polls/{id}/\(action.rawValue)") { [self] request, parameters, response in
                organizer(request, response) { transition(action, request, parameters[0], response, store) }
            }
        }
    }

    /// What one loop's vote route works with.
    struct VoteContext {
        let reader: RegistryReader
        let store: LoopStore
        let stats: VoteStats
        let responder: Int
    }

    /// Runs `body` only for organizers; others get 401 (no credential) or 403 (a voter's).
    func organizer(_ request: Request, _ response: ResponseWriter, _ body: () -> Void) {
        if access.isOrganizer(request) {
            body()
        } else if AccessPolicy.bearer(request) == nil {
            response.writeError(
                status: 401, code: "credentials_required", message: "this needs an organizer token",
                extraHeaders: "WWW-Authenticate: Bearer realm=\"tally\"\r\n")
        } else {
            response.writeError(status: 403, code: "forbidden", message: "this needs an organizer token")
        }
    }
}
