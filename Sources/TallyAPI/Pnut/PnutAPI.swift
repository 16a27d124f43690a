import TallyCore
import TallyHTTP
import TallyStore

/// pnut.io's poll API (`seeds/pnut-polls.md`), mounted under a prefix (`/pnut/v1`: pnutpy's
/// `api_root` is `http://host:port/pnut/v1`; it joins paths without normalising, and repeated
/// slashes are one here). Bearer voter or organizer tokens. One instance; `install` adds its
/// routes to each loop's router, on that loop's desks.
public final class PnutAPI: Sendable {
    let registry: PollRegistry
    let access: AccessPolicy
    let prefix: String
    /// Each loop's response outcomes.
    public let voteStats: [VoteStats]
    let style = PnutStyle()
    static let maxIDs = 100

    public init(registry: PollRegistry, access: AccessPolicy, prefix: String) {
        self.registry = registry
        self.access = access
        self.prefix = prefix
        voteStats = (0..<registry.shardCount).map { _ in VoteStats() }
    }

    public func install(on router: Router, _ desks: LoopDesks) {
        let stats = voteStats[desks.reader.shard]
        let style = style
        let answerID = desks.addPollAnswer(style, stats: stats) { stored, _, poll, response in PnutVotes.answer(stored, poll, response) }
        let votes = desks.votes
        let group = router.group(prefix) { error, response in style.write(error, response) }
        // Responses first: routes are tried in order, and they are the hot ones.
        group.add(.put, "/polls/{id}/response/{positions}") { request, parameters, response in
            votes.vote(request, poll: PollIDs.parse(parameters[0]), PnutVotes(stats: stats, answerID: answerID, pathPositions: parameters[1]), response)
        }
        group.add(.put, "/polls/{id}/response") { request, parameters, response in
            votes.vote(request, poll: PollIDs.parse(parameters[0]), PnutVotes(stats: stats, answerID: answerID, pathPositions: nil), response)
        }
        group.add(.post, "/polls") { [self] request, _, response in create(request, response, desks) }
        group.add(.get, "/polls") { [self] request, _, response in list(request, response, desks.polls) }
        group.add(.get, "/polls/{id}") { [self] request, parameters, response in show(request, parameters[0], response, desks) }
        group.add(.delete, "/polls/{id}") { [self] request, parameters, response in delete(request, parameters[0], response, desks) }
        group.add(.get, "/users/me/polls") { [self] request, _, response in mine(request, response, desks.polls) }
    }

    // MARK: - Callers

    /// Whether `viewer` may see `poll`: public, its creator or an organizer, or the right token.
    /// True when the token was passed and is right (the answer then shows it).
    private func admits(_ poll: Poll, _ viewer: Viewer, token: UnsafeRawBufferPointer?) -> (admitted: Bool, passedToken: Bool) {
        guard let required = poll.definition.rules.token else { return (true, false) }
        if let token, required.matches(PollToken(parsing: token)) { return (true, true) }
        return (poll.isOrganizer(viewer), false)
    }

    // MARK: - Routes

    /// `POST /polls`: 201 with the poll and, for a private one, its `poll_token`. Organizers
    /// always; voters when `[auth] voters_create_polls` (403 otherwise).
    private func create(_ request: Request, _ response: ResponseWriter, _ desks: LoopDesks) {
        guard let (viewer, voter) = access.caller(request, response, style, required: true) else { return }
        guard viewer.isOrganizer || access.votersCreatePolls else { return style.write(AdminError.forbidden, response) }
        let now = WallClock.now()
        let body: PnutPollRequest
        do { body = try PnutPollRequest(request, now: now) } catch { return style.write(error, response) }
        let definition = body.definition(author: voter?.id, now: now)
        do { try definition.validate() } catch { return style.write(AdminError(error), response) }
        desks.polls.create(definition, .open, response, style) { [style] poll, response in
            style.write(status: 201, response) { json in
                PnutPollJSON.poll(poll, viewer: viewer, own: .empty, showsToken: true, respondents: nil, now: WallClock.now(), &json)
            }
        }
    }

    /// `GET /polls/{id}` (`?poll_token=` for a private poll): the poll, with the caller's own
    /// response looked up in Redis; `respondent_ids` read from Redis' ballots where they show.
    private func show(_ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desks: LoopDesks) {
        guard let (viewer, voter) = access.caller(request, response, style, required: false) else { return }
        guard let id = PollIDs.parse(idText) else { return style.notFound(response) }
        guard let poll = desks.polls.find(id, response, style) else { return }
        let (admitted, passedToken) = admits(poll, viewer, token: QueryString.value("poll_token", in: request.query))
        guard admitted else { return style.notFound(response) }
        if needsRespondentIDs(poll, viewer) {
            let later = response.deferred()
            return desks.store.ballots(of: poll.storeShards) { [registry, style] ballots in
                later.complete { response in
                    guard let ballots, let poll = registry.poll(id) else { return style.writeUnavailable(response) }
                    let own = voter.map { voter in ballots.first { $0.voter == voter.id }?.ballot ?? .empty } ?? .empty
                    // What Redis holds for the caller: the counts show to them if they responded.
                    if let voter { desks.reader.adopt(poll: id, voter: voter.key, stored: own) }
                    style.write(response) { json in
                        PnutPollJSON.poll(poll, viewer: viewer, own: own, showsToken: passedToken, respondents: ballots.sorted { $0.voter < $1.voter },
                            now: WallClock.now(), &json)
                    }
                }
            }
        }
        desks.polls.withBallot(of: voter, in: poll, response) { [registry, style] response in
            guard let poll = registry.poll(id) else { return style.notFound(response) }
            let own = viewer.voter.map { poll.ballot(of: $0) } ?? .empty
            style.write(response) { json in
                PnutPollJSON.poll(poll, viewer: viewer, own: own, showsToken: passedToken, respondents: nil, now: WallClock.now(), &json)
            }
        }
    }

    /// Who chose what shows on polls that are not anonymous, to whoever sees the counts.
    private func needsRespondentIDs(_ poll: Poll, _ viewer: Viewer) -> Bool {
        !poll.definition.rules.anonymous && (poll.isOrganizer(viewer) || poll.isClosed(at: WallClock.now()) || viewer.voter != nil)
    }

    /// `GET /polls?ids=1,2`: up to 100 polls the caller may see (a private one with
    /// `poll_token_{id}=…`); the others are left out. Counts as this daemon holds them.
    private func list(_ request: Request, _ response: ResponseWriter, _ desk: PollDesk) {
        guard let (viewer, _) = access.caller(request, response, style, required: false) else { return }
        let query = QueryString.pairs(request.query)
        let ids = query.first { $0.0 == "ids" }?.1.split(separator: ",").map { String($0.filter { $0 != " " }) } ?? []
        guard !ids.isEmpty, ids.count <= PnutAPI.maxIDs else { return style.error(400, "ids must list 1 to 100 poll ids.", response) }
        let tokens = Dictionary(query.filter { $0.0.hasPrefix("poll_token_") }.map { (String($0.0.dropFirst(11)), $0.1) }) { first, _ in first }
        guard let held = desk.find(ids.compactMap { PollID($0) }, response, style) else { return }
        let now = WallClock.now()
        var shown: [(Poll, Bool)] = []
        for text in ids {
            guard let id = PollID(text), let poll = held.first(where: { $0.id == id }) else { continue }
            let token = tokens[text].map { Array($0.utf8) }
            let (admitted, passedToken) = token.map { bytes in bytes.withUnsafeBytes { admits(poll, viewer, token: $0) } } ?? admits(poll, viewer, token: nil)
            if admitted { shown.append((poll, passedToken)) }
        }
        style.write(response) { json in
            json.array { list in
                for (poll, passedToken) in shown {
                    let own = viewer.voter.map { poll.ballot(of: $0) } ?? .empty
                    PnutPollJSON.poll(poll, viewer: viewer, own: own, showsToken: passedToken, respondents: nil, now: now, &list)
                }
            }
        }
    }

    /// `GET /users/me/polls`: the polls the caller created (newest first; `count`, default 20, at
    /// most 200; `before_id`, `since_id`); for an organizer, every poll created through this API.
    private func mine(_ request: Request, _ response: ResponseWriter, _ desk: PollDesk) {
        guard let (viewer, voter) = access.caller(request, response, style, required: true) else { return }
        let query = Dictionary(QueryString.pairs(request.query)) { first, _ in first }
        let count = min(max(query["count"].flatMap { Int($0) } ?? 20, 1), 200)
        let before = query["before_id"].flatMap { PollID($0) } ?? .max
        let since = query["since_id"].flatMap { PollID($0) } ?? 0
        let mine = PollQuery(labelNames: [PnutPollJSON.typeLabel], organizer: voter?.id)
        guard let (page, more) = desk.listed(registry.list(mine, after: since, before: before, limit: count, newestFirst: true), response, style)
        else { return }
        let now = WallClock.now()
        style.write(
            response,
            meta: { meta in
                if let first = page.first, let last = page.last {
                    meta.key("min_id")
                    meta.value(decimalString: last.id)
                    meta.key("max_id")
                    meta.value(decimalString: first.id)
                }
                meta.field("more", more)
            }
        ) { json in
            json.array { list in
                for poll in page {
                    let own = viewer.voter.map { poll.ballot(of: $0) } ?? .empty
                    PnutPollJSON.poll(poll, viewer: viewer, own: own, showsToken: true, respondents: nil, now: now, &list)
                }
            }
        }
    }

    /// `DELETE /polls/{id}`: the deleted poll, by its creator or an organizer (403 otherwise).
    private func delete(_ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desks: LoopDesks) {
        guard let (viewer, _) = access.caller(request, response, style, required: true) else { return }
        guard let id = PollIDs.parse(idText) else { return style.notFound(response) }
        guard let poll = desks.polls.find(id, response, style) else { return }
        guard admits(poll, viewer, token: QueryString.value("poll_token", in: request.query)).admitted else { return style.notFound(response) }
        guard poll.isOrganizer(viewer) else { return style.write(AdminError.forbidden, response) }
        desks.polls.delete(id, response, style) { [style] response in
            style.write(response) { json in
                PnutPollJSON.poll(poll, viewer: viewer, own: .empty, showsToken: true, respondents: nil, now: WallClock.now(), &json)
            }
        }
    }
}
