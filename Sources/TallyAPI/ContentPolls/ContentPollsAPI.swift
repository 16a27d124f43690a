import TallyCore
import TallyHTTP
import TallyStore

/// The content-polls REST API of the Jira/Confluence app (`seeds/content-polls-rest.md`): one path
/// (the mount, `/content-polls`), four verbs, everything else in the query. Every call is an
/// organizer's (`token`); polls are engine polls labelled with their workspace, content and
/// container, created open. Beyond the document: `tallyId` in every Poll (votes go through the
/// native API's vote endpoint) and `expand=results` on GET, seen as the organizer or, when the
/// request carries a voter credential (`Authorization: Bearer`, or a trusted proxy's
/// `X-Voter-Id`), as that voter may see them.
public final class ContentPollsAPI: Sendable {
    let registry: PollRegistry
    let access: AccessPolicy
    let prefix: String
    let style = ContentPollsStyle()

    public init(registry: PollRegistry, access: AccessPolicy, prefix: String) {
        self.registry = registry
        self.access = access
        self.prefix = prefix
    }

    public func install(on router: Router, _ desks: LoopDesks) {
        let style = style
        let group = router.group(prefix) { error, response in style.write(error, response) }
        group.add(.get, "") { [self] request, _, response in read(request, response, desks) }
        group.add(.post, "") { [self] request, _, response in create(request, response, desks) }
        group.add(.put, "") { [self] request, _, response in update(request, response, desks) }
        group.add(.delete, "") { [self] request, _, response in delete(request, response, desks) }
    }

    // MARK: - The query

    /// The organizer's call's query and place; nil after answering 403 (a missing or wrong
    /// `token`, checked first) or 400 (a missing parameter, named).
    private func place(_ request: Request, _ response: ResponseWriter) -> (ContentPollQuery, ContentPlace)? {
        let query = ContentPollQuery(request)
        guard let token = query.token, Array(token.utf8).withUnsafeBytes({ access.isOrganizerToken($0) }) else {
            style.forbidden(response)
            return nil
        }
        do { return (query, try query.place()) } catch {
            style.write(error, response)
            return nil
        }
    }

    /// The poll `pollId` names (required) in `place`; nil after answering 400 or 404.
    private func poll(_ query: ContentPollQuery, in place: ContentPlace, _ response: ResponseWriter, _ desk: PollDesk) -> (Poll, ContentPoll)? {
        let idText: String
        do { idText = try query.requiredPollID() } catch {
            style.write(error, response)
            return nil
        }
        return poll(idText, in: place, response, desk)
    }

    /// The poll `idText` names in `place`; nil after answering 404, or while it is loaded.
    private func poll(_ idText: String, in place: ContentPlace, _ response: ResponseWriter, _ desk: PollDesk) -> (Poll, ContentPoll)? {
        guard let id = ContentPollID.pollID(idText) else {
            style.notFound(response)
            return nil
        }
        guard let poll = desk.find(id, response, style) else { return nil }
        guard let content = ContentPoll(poll), content.id == idText.lowercased(), content.place == place else {
            style.notFound(response)
            return nil
        }
        return (poll, content)
    }

    // MARK: - The four verbs

    /// `GET`: the content's polls (`Poll[]`, oldest first), or the one `pollId` names (`Poll`).
    private func read(_ request: Request, _ response: ResponseWriter, _ desks: LoopDesks) {
        guard let (query, place) = place(request, response) else { return }
        var viewer = Viewer.organizer
        var voter: VoterIdentity?
        if query.expandsResults {
            switch access.voter(request, now: WallClock.now() / 1_000_000) {
            case .voter(let identity): (viewer, voter) = (Viewer(voter: identity.key), identity)
            case .missing: break
            case let refused: return style.write(refused, response)
            }
        }
        let one = query.pollID
        let polls: [(Poll, ContentPoll)]
        if let one {
            guard let found = poll(one, in: place, response, desks.polls) else { return }
            polls = [found]
        } else {
            guard let listed = desks.polls.listed(registry.list(labels: place.labels), response, style) else { return }
            polls = listed.polls.compactMap { poll in ContentPoll(poll).map { (poll, $0) } }
        }
        let expands = query.expandsResults
        // A voter's own ballots first: they may have voted through another daemon.
        desks.polls.withBallots(of: voter, in: polls.map(\.0), response) { [registry] response in
            let now = WallClock.now()
            let write = { (poll: Poll, content: ContentPoll, json: inout JSONWriter) in
                let results = expands ? (registry.poll(poll.id) ?? poll).results(for: viewer, now: now) : nil
                ContentPollJSON.poll(content, tallyID: poll.id, results: results, &json)
            }
            response.writeJSON(status: 200) { json in
                if one != nil { return write(polls[0].0, polls[0].1, &json) }
                json.array { list in
                    for (poll, content) in polls { write(poll, content, &list) }
                }
            }
        }
    }

    /// `POST`: a new poll in the place, open at once; 200 with it.
    private func create(_ request: Request, _ response: ResponseWriter, _ desks: LoopDesks) {
        guard let (_, place) = place(request, response) else { return }
        var content = ContentPoll(place: place)
        let now = WallClock.now()
        do throws(AdminError) {
            try ContentPollRequest.apply(Array(request.body), to: &content)
            _ = try content.checkedDefinition(createdAt: now)
        } catch { return style.write(error, response) }
        desks.polls.create(
            { id in
                content.id = ContentPollID.make(for: id)
                return content.definition(createdAt: now)
            }, .open, response, style
        ) { [self] poll, response in write(poll, response) }
    }

    /// `PUT`: the poll `pollId` names, changed as the body says; 200 with it. Options may be added
    /// or removed only while nobody has voted (Redis checks it as it saves); renamed and
    /// reordered always. A poll its end date closed opens again when the new settings leave it
    /// open.
    private func update(_ request: Request, _ response: ResponseWriter, _ desks: LoopDesks) {
        guard let (query, place) = place(request, response), let (poll, old) = poll(query, in: place, response, desks.polls) else { return }
        var content = old
        let definition: PollDefinition
        do throws(AdminError) {
            try ContentPollRequest.apply(Array(request.body), to: &content)
            definition = try content.checkedDefinition(createdAt: poll.definition.createdAt)
        } catch { return style.write(error, response) }
        let optionsChanged = Set(content.options.map(\.id)) != Set(old.options.map(\.id))
        let stillOpen = definition.rules.deadline.map { WallClock.now() < $0 } ?? true
        let lifecycle = poll.lifecycle == .closed && stillOpen ? .open : poll.lifecycle
        desks.polls.save(
            poll.id, definition, lifecycle, response.deferred(), style, expected: poll.version,
            refusedIfVoted: optionsChanged
                ? .invalidField("Bad request. Options cannot be added or removed once the poll has votes; rename or reorder them instead") : nil
        ) { [self] poll, response in write(poll, response) }
    }

    /// `DELETE`: the poll `pollId` names, with its votes; 200.
    private func delete(_ request: Request, _ response: ResponseWriter, _ desks: LoopDesks) {
        guard let (query, place) = place(request, response), let (poll, _) = poll(query, in: place, response, desks.polls) else { return }
        desks.polls.delete(poll.id, response, style) { $0.write(status: 200, contentType: nil, body: UnsafeRawBufferPointer(start: nil, count: 0)) }
    }

    private func write(_ poll: Poll, _ response: ResponseWriter) {
        guard let content = ContentPoll(poll) else { return style.writeUnavailable(response) }
        response.writeJSON(status: 200) { ContentPollJSON.poll(content, tallyID: poll.id, results: nil, &$0) }
    }
}
