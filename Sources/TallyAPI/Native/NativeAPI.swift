import TallyCore
import TallyHTTP

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

    public func install(on router: Router, reader: RegistryReader) {
        let stats = voteStats[reader.shard]
        router.add(.post, "/v1/polls/{id}/votes") { [self] request, parameters, response in
            vote(request, parameters[0], response, reader: reader, stats: stats)
        }
        router.add(.get, "/v1/polls/{id}") { [self] request, parameters, response in
            show(request, parameters[0], response, reader: reader, resultsOnly: false)
        }
        router.add(.get, "/v1/polls/{id}/results") { [self] request, parameters, response in
            show(request, parameters[0], response, reader: reader, resultsOnly: true)
        }
        router.add(.get, "/v1/polls/{id}/results/stream") { [self] request, parameters, response in
            streamResults(request, parameters[0], response, reader: reader)
        }
        router.add(.post, "/v1/polls") { [self] request, _, response in
            organizer(request, response) { create(request, response) }
        }
        router.add(.get, "/v1/polls") { [self] request, _, response in
            organizer(request, response) { list(request, response) }
        }
        router.add(.patch, "/v1/polls/{id}") { [self] request, parameters, response in
            organizer(request, response) { update(request, parameters[0], response) }
        }
        router.add(.delete, "/v1/polls/{id}") { [self] request, parameters, response in
            organizer(request, response) { delete(parameters[0], response) }
        }
        for action in LifecycleAction.allCases {
            router.add(.post, "/v1/polls/{id}/\(action.rawValue)") { [self] request, parameters, response in
                organizer(request, response) { transition(action, request, parameters[0], response) }
            }
        }
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
