import TallyCore
import TallyHTTP
import TallyStore

/// Nextcloud Talk's poll API (OCS, `/ocs/v2.php/apps/spreed/api/v1/poll/…` and its `v1.php` twin)
/// and the two documents nc-py-api reads (`/ocs/v1.php/cloud/capabilities`, `/cloud/user`),
/// mounted under a prefix (`/nextcloud`: nc-py-api's `nextcloud_url` is
/// `http://host:port/nextcloud`). A room (`{token}`) is a label on the poll: it needs no creating,
/// and a poll is found only under its own room. Callers: HTTP Basic with a voter id and that
/// voter's token as password, or any name and an organizer token (a moderator of every room);
/// bearer tokens too. One instance; `install` adds its routes to each loop's router.
public final class NextcloudAPI: Sendable {
    let registry: PollRegistry
    let access: AccessPolicy
    let prefix: String
    /// Each loop's vote outcomes.
    public let voteStats: [VoteStats]

    public init(registry: PollRegistry, access: AccessPolicy, prefix: String) {
        self.registry = registry
        self.access = access
        self.prefix = prefix
        voteStats = (0..<registry.shardCount).map { _ in VoteStats() }
    }

    public func install(on router: Router, _ desks: LoopDesks) {
        let stats = voteStats[desks.reader.shard]
        let votes = desks.votes
        let fragments = DefinitionFragments()
        for version in [OCSVersion.v1, .v2] {
            let style = NextcloudStyle(version: version)
            let answerID = desks.addPollAnswer(style, stats: stats) { stored, _, poll, response in
                NextcloudVotes.answer(stored, poll, response, style: style, fragments: fragments)
            }
            let group = router.group(prefix + (version == .v1 ? "/ocs/v1.php" : "/ocs/v2.php")) { error, response in
                style.write(error, response)
            }
            let polls = "/apps/spreed/api/v1/poll/{token}"
            // The vote first: routes are tried in order, and it is the hot one.
            group.add(.post, polls + "/{pollId}") { request, parameters, response in
                guard NextcloudAPI.isOCSRequest(request) else { return NextcloudStyle.csrfFailed(response) }
                let dialect = NextcloudVotes(style: style, stats: stats, answerID: answerID, room: parameters[0])
                votes.vote(request, poll: PollIDs.parse(parameters[1]), dialect, response)
            }
            group.add(.post, polls) { [self] request, parameters, response in
                guard NextcloudAPI.isOCSRequest(request) else { return NextcloudStyle.csrfFailed(response) }
                create(request, room: parameters[0], response, desks, style)
            }
            group.add(.get, polls + "/drafts") { [self] request, parameters, response in
                guard NextcloudAPI.isOCSRequest(request) else { return NextcloudStyle.csrfFailed(response) }
                drafts(request, room: parameters[0], response, desks.polls, style)
            }
            group.add(.get, polls + "/{pollId}") { [self] request, parameters, response in
                guard NextcloudAPI.isOCSRequest(request) else { return NextcloudStyle.csrfFailed(response) }
                show(request, room: parameters[0], parameters[1], response, desks, style)
            }
            group.add(.delete, polls + "/{pollId}") { [self] request, parameters, response in
                guard NextcloudAPI.isOCSRequest(request) else { return NextcloudStyle.csrfFailed(response) }
                close(request, room: parameters[0], parameters[1], response, desks, style)
            }
            group.add(.get, "/cloud/capabilities") { _, _, response in
                style.write(status: 200, response) { NextcloudServer.capabilities(&$0) }
            }
            group.add(.get, "/cloud/user") { [self] request, _, response in
                guard let caller = caller(request, response, style) else { return }
                style.write(status: 200, response) { NextcloudServer.user(caller.name, &$0) }
            }
        }
        // The rest of the mount: 404s in the envelope.
        _ = router.group(prefix) { error, response in NextcloudStyle(version: .v2).write(error, response) }
    }

    /// Nextcloud's CSRF check passes an OCS call that carries `OCS-APIRequest` (any value) or a
    /// bearer token (`Request::passesCSRFCheck`, `SecurityMiddleware`).
    static func isOCSRequest(_ request: Request) -> Bool {
        if let header = request.header("ocs-apirequest"), !header.isEmpty { return true }
        return request.header("authorization").map { ASCII.startsIgnoringCase($0, "bearer ") } ?? false
    }

    // MARK: - Callers

    /// Who calls: a moderator (an organizer credential, named by its Basic user name) or a voter.
    struct Caller {
        var name: String
        var voter: VoterIdentity?
        var isModerator: Bool { voter == nil }

        /// How this caller reads `poll`: a moderator as an organizer, a voter with their ballot.
        func reader(of poll: Poll, ballot: Ballot? = nil) -> NextcloudPollJSON.Reader {
            guard let voter else { return NextcloudPollJSON.Reader(viewer: .organizer, ownBallot: .empty) }
            return .voter(voter.key, ballot: ballot ?? poll.ballot(of: voter.key))
        }
    }

    /// The caller, or nil after answering 401.
    private func caller(_ request: Request, _ response: ResponseWriter, _ style: NextcloudStyle) -> Caller? {
        guard let (_, voter) = access.caller(request, response, style, required: true) else { return nil }
        return Caller(name: voter?.id ?? BasicCredentials.user(request) ?? "organizer", voter: voter)
    }

    /// The poll `idText` names in `room`, or nil after answering 404 (or while it is loaded).
    private func poll(
        _ idText: UnsafeRawBufferPointer, room: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desk: PollDesk, _ style: NextcloudStyle
    ) -> Poll? {
        guard let id = PollIDs.parse(idText) else {
            style.write(VoteRejection.unknownPoll, response)
            return nil
        }
        guard let poll = desk.find(id, response, style) else { return nil }
        guard poll.label(NextcloudPollJSON.roomLabel, is: room) else {
            style.write(VoteRejection.unknownPoll, response)
            return nil
        }
        return poll
    }

    // MARK: - Routes

    /// `POST …/poll/{token}`: 201 with the poll, a draft 200 with its draft fields. Moderators
    /// always; voters when `[auth] voters_create_polls` (else 403, as for a participant without
    /// chat permission). Drafts are for moderators (400 `draft`).
    private func create(_ request: Request, room: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desks: LoopDesks, _ style: NextcloudStyle) {
        guard let caller = caller(request, response, style) else { return }
        guard caller.isModerator || access.votersCreatePolls else { return style.write(AdminError.forbidden, response) }
        let body: NextcloudPollRequest
        do { body = try NextcloudPollRequest(request) } catch { return style.write(error, response) }
        guard !body.draft || caller.isModerator else { return style.writeReason(status: 400, "draft", response) }
        let definition = body.definition(room: String(decoding: room, as: UTF8.self), author: caller.name, now: WallClock.now())
        do { try definition.validate() } catch { return style.write(AdminError(error), response) }
        desks.polls.create(definition, body.draft ? .draft : .open, response, style) { poll, response in
            let now = WallClock.now()
            if body.draft {
                style.write(status: 200, response) { NextcloudPollJSON.draft(poll, now: now, &$0) }
            } else {
                style.write(status: 201, response) { NextcloudPollJSON.poll(poll, caller.reader(of: poll, ballot: .empty), details: nil, now: now, &$0) }
            }
        }
    }

    /// `GET …/poll/{token}/drafts`: the room's drafts, for moderators (403 otherwise).
    private func drafts(_ request: Request, room: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desk: PollDesk, _ style: NextcloudStyle) {
        guard let caller = caller(request, response, style) else { return }
        guard caller.isModerator else { return style.write(AdminError.forbidden, response) }
        let listing = registry.list(lifecycle: .draft, labels: [NextcloudPollJSON.roomLabel: String(decoding: room, as: UTF8.self)])
        guard let drafts = desk.listed(listing, response, style)?.polls else { return }
        let now = WallClock.now()
        style.write(status: 200, response) { json in
            json.array { list in
                for poll in drafts.sorted(by: { $0.id < $1.id }) { NextcloudPollJSON.draft(poll, now: now, &list) }
            }
        }
    }

    /// `GET …/poll/{token}/{pollId}`: the poll as the caller may see it. A voter's own ballot is
    /// looked up in Redis (they may have voted through another daemon); a closed public poll's
    /// `details` are read from Redis' ballots, which hold the caller's too.
    private func show(
        _ request: Request, room: UnsafeRawBufferPointer, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desks: LoopDesks,
        _ style: NextcloudStyle
    ) {
        guard let poll = poll(idText, room: room, response, desks.polls, style), let caller = caller(request, response, style) else { return }
        guard poll.lifecycle != .draft || caller.isModerator else { return style.write(VoteRejection.unknownPoll, response) }
        let id = poll.id
        if needsDetails(poll) { return answerWithDetails(poll, caller, response.deferred(), desks, style) }
        desks.polls.withBallot(of: caller.voter, in: poll, response) { [registry] response in
            guard let poll = registry.poll(id) else { return style.write(VoteRejection.unknownPoll, response) }
            style.write(status: 200, response) { NextcloudPollJSON.poll(poll, caller.reader(of: poll), details: nil, now: WallClock.now(), &$0) }
        }
    }

    /// `DELETE …/poll/{token}/{pollId}`: closes the poll (200 with it; 400 if already closed), by
    /// its author or a moderator (403 otherwise); a draft is deleted instead (202), by a moderator
    /// (404 otherwise).
    private func close(
        _ request: Request, room: UnsafeRawBufferPointer, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desks: LoopDesks,
        _ style: NextcloudStyle
    ) {
        guard let poll = poll(idText, room: room, response, desks.polls, style), let caller = caller(request, response, style) else { return }
        if poll.lifecycle == .draft {
            guard caller.isModerator else { return style.write(VoteRejection.unknownPoll, response) }
            return desks.polls.delete(poll.id, response, style) { style.writeEmpty(status: 202, $0) }
        }
        guard !poll.isClosed(at: WallClock.now()) else { return style.write(VoteRejection.closed, response) }
        guard caller.isModerator || poll.isOrganizer(caller.reader(of: poll).viewer) else { return style.write(AdminError.forbidden, response) }
        desks.polls.save(poll.id, poll.definition, .closed, response.deferred(), style, expected: poll.version) { [self] poll, response in
            guard needsDetails(poll) else {
                return style.write(status: 200, response) { NextcloudPollJSON.poll(poll, caller.reader(of: poll), details: nil, now: WallClock.now(), &$0) }
            }
            // Read after the close is stored: no vote can come between.
            answerWithDetails(poll, caller, response.deferred(), desks, style)
        }
    }

    /// Closed public polls show who chose what.
    private func needsDetails(_ poll: Poll) -> Bool {
        NextcloudPollJSON.resultMode(poll) == 0 && NextcloudPollJSON.status(poll, now: WallClock.now()) == 1
    }

    /// Answers with the poll and who chose what (sorted by voter id): every ballot read from Redis,
    /// the caller's among them; 503 if Redis cannot be asked.
    private func answerWithDetails(_ poll: Poll, _ caller: Caller, _ response: DeferredResponse, _ desks: LoopDesks, _ style: NextcloudStyle) {
        let id = poll.id
        desks.store.ballots(of: poll.storeShards) { [registry] ballots in
            response.complete { response in
                guard let ballots else { return style.writeUnavailable(response) }
                guard let poll = registry.poll(id) else { return style.write(VoteRejection.unknownPoll, response) }
                let details = ballots.sorted { $0.voter < $1.voter }
                let own = caller.voter.map { voter in details.first { $0.voter == voter.id }?.ballot ?? .empty }
                style.write(status: 200, response) {
                    NextcloudPollJSON.poll(poll, caller.reader(of: poll, ballot: own), details: details, now: WallClock.now(), &$0)
                }
            }
        }
    }
}
