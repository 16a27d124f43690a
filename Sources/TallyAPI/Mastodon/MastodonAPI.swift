import Foundation
import TallyCore
import TallyHTTP
import TallyStore

/// Mastodon's poll API (`/api/v1/polls`, statuses with a poll, the instance documents), mounted
/// under a prefix (`/mastodon`: Mastodon.py's `api_base_url` is `http://host:port/mastodon`).
/// One instance; `install` adds its routes to each loop's router, on that loop's desks.
public final class MastodonAPI: Sendable {
    let registry: PollRegistry
    let access: AccessPolicy
    let prefix: String
    /// Each loop's vote outcomes.
    public let voteStats: [VoteStats]
    let style = MastodonStyle()

    public init(registry: PollRegistry, access: AccessPolicy, prefix: String) {
        self.registry = registry
        self.access = access
        self.prefix = prefix
        voteStats = (0..<registry.shardCount).map { _ in VoteStats() }
    }

    /// Adds the routes to one loop's router, under the mount's prefix, on that loop's desks.
    public func install(on router: Router, _ desks: LoopDesks) {
        let stats = voteStats[desks.reader.shard]
        let answerID = desks.addPollAnswer(style, stats: stats) { stored, _, poll, response in MastodonVotes.answer(stored, poll, response) }
        let dialect = MastodonVotes(stats: stats, answerID: answerID)
        let votes = desks.votes
        let polls = desks.polls
        let style = style
        let group = router.group(prefix) { error, response in style.write(error, response) }
        group.add(.post, "/api/v1/polls/{id}/votes") { request, parameters, response in
            votes.vote(request, poll: PollIDs.parse(parameters[0]), dialect, response)
        }
        group.add(.get, "/api/v1/polls/{id}") { [self] request, parameters, response in
            show(request, parameters[0], response, polls, asStatus: false)
        }
        group.add(.get, "/api/v1/statuses/{id}") { [self] request, parameters, response in
            show(request, parameters[0], response, polls, asStatus: true)
        }
        group.add(.post, "/api/v1/statuses") { [self] request, _, response in
            createStatus(request, response, polls)
        }
        group.add(.get, "/api/v1/instance") { [self] request, _, response in
            response.writeJSON(status: 200) { MastodonInstance.v1(page(request), &$0) }
        }
        group.add(.get, "/api/v2/instance") { [self] request, _, response in
            response.writeJSON(status: 200) { MastodonInstance.v2(page(request), &$0) }
        }
    }

    /// `GET /api/v1/polls/:id` (the Poll) and `GET /api/v1/statuses/:id` (the Status around it);
    /// a user token is optional and adds `voted` and `own_votes`.
    private func show(_ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desk: PollDesk, asStatus: Bool) {
        guard let id = PollIDs.parse(idText) else { return style.notFound(response) }
        guard let poll = desk.find(id, response, style) else { return }
        guard let (viewer, voter) = desk.viewer(request, poll, token: nil, response, style) else { return }
        let page = page(request)
        desk.withBallot(of: voter, in: poll, response) { [registry, style] response in
            guard let poll = registry.poll(id) else { return style.notFound(response) }
            let own = viewer.voter.map { poll.ballot(of: $0) } ?? .empty
            let withUser = viewer.voter != nil || viewer.isOrganizer
            response.writeJSON(status: 200) { json in
                if asStatus {
                    MastodonEntities.status(poll, page, viewer: viewer, own: own, withUser: withUser, &json)
                } else {
                    MastodonEntities.poll(poll, viewer: viewer, own: own, withUser: withUser, now: WallClock.now(), &json)
                }
            }
        }
    }

    /// `POST /api/v1/statuses` with a poll: an engine poll whose question is the status' text.
    /// Organizers always; voters when `[auth] voters_create_polls` (Mastodon lets any user post).
    private func createStatus(_ request: Request, _ response: ResponseWriter, _ desk: PollDesk) {
        guard let (viewer, voter) = access.caller(request, response, style, required: true) else { return }
        guard viewer.isOrganizer || access.votersCreatePolls else { return style.write(AdminError.forbidden, response) }
        let author = voter?.id
        let status: MastodonStatusRequest
        do { status = try MastodonStatusRequest(request) } catch { return style.write(error, response) }
        let definition = status.definition(author: author, now: WallClock.now())
        let page = page(request)
        desk.create(definition, .open, response, style) { poll, response in
            response.writeJSON(status: 200) { json in
                let viewer = author.map { Viewer(voter: VoterKey(id: $0)) } ?? .organizer
                MastodonEntities.status(poll, page, viewer: viewer, own: .empty, withUser: true, &json)
            }
        }
    }

    /// The base of this mount's URLs as the client reached it.
    private func page(_ request: Request) -> MastodonEntities.Page {
        let host = request.header("host").map { String(decoding: $0, as: UTF8.self) } ?? "localhost"
        let https = request.header("x-forwarded-proto").map { ASCII.equalsIgnoringCase($0, UnsafeRawBufferPointer(start: ("https" as StaticString).utf8Start, count: 5)) } ?? false
        return MastodonEntities.Page(host: host, base: "\(https ? "https" : "http")://\(host)\(prefix)")
    }
}
