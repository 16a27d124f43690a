import TallyCore
import TallyHTTP
import TallyStore

/// Canvas' polls API (`/api/v1/polls`, its choices, sessions and submissions;
/// `seeds/canvas-poll-sessions.md`), mounted under a prefix (`/canvas`: canvasapi's base URL is
/// `http://host:port/canvas`). A Canvas poll is a question template kept in Redis with its
/// choices (`CanvasTemplates`); each session is a Tally poll made from the template's choices when
/// the session is created (single choice, no revote), labelled with its course and section.
/// Teachers are organizer tokens and manage everything; students are voter tokens: they read and
/// submit. Lists come whole, without `Link` pages.
public final class CanvasAPI: Sendable {
    let registry: PollRegistry
    let access: AccessPolicy
    let prefix: String
    /// Each loop's submission outcomes.
    public let voteStats: [VoteStats]
    let style = CanvasStyle()

    public init(registry: PollRegistry, access: AccessPolicy, prefix: String) {
        self.registry = registry
        self.access = access
        self.prefix = prefix
        voteStats = (0..<registry.shardCount).map { _ in VoteStats() }
    }

    public func install(on router: Router, _ desks: LoopDesks) {
        let stats = voteStats[desks.reader.shard]
        let style = style
        let answerID = desks.addPollAnswer(style, stats: stats) { stored, outcome, poll, response in
            CanvasVotes.answer(stored, outcome, poll, response)
        }
        let votes = desks.votes
        let templates = CanvasTemplates(store: desks.store)
        let group = router.group(prefix) { error, response in style.write(error, response) }
        let sessionsPath = "/api/v1/polls/{poll}/poll_sessions"
        // Submissions first: routes are tried in order, and they are the hot ones.
        group.add(.post, sessionsPath + "/{session}/poll_submissions") { request, parameters, response in
            let dialect = CanvasVotes(stats: stats, answerID: answerID, template: parameters[0])
            votes.vote(request, poll: PollIDs.parse(parameters[1]), dialect, response)
        }
        group.add(.get, sessionsPath + "/{session}/poll_submissions/{id}") { [self] request, p, response in
            submission(request, p[0], p[1], p[2], response, desks)
        }
        group.add(.get, "/api/v1/polls") { [self] request, _, response in
            guard let viewer = viewer(request, response) else { return }
            guard viewer.isOrganizer else { return writePolls([], teacher: false, response, desks.polls) }  // a student owns no polls
            let later = response.deferred()
            templates.loadAll { [self] list in
                later.complete { response in
                    guard let list else { return style.writeUnavailable(response) }
                    writePolls(list.reversed(), teacher: true, response, desks.polls)  // newest first, as Canvas lists them
                }
            }
        }
        group.add(.post, "/api/v1/polls") { [self] request, _, response in createPoll(request, response, templates) }
        group.add(.get, "/api/v1/polls/{poll}") { [self] request, p, response in
            withTemplate(request, p[0], response, templates) { [self] template, viewer, response in
                writePolls([template], teacher: viewer.isOrganizer, response, desks.polls)
            }
        }
        group.add(.put, "/api/v1/polls/{poll}") { [self] request, p, response in updatePoll(request, p[0], response, templates, desks.polls) }
        group.add(.delete, "/api/v1/polls/{poll}") { [self] request, p, response in deletePoll(request, p[0], response, desks, templates) }
        let choices = "/api/v1/polls/{poll}/poll_choices"
        group.add(.get, choices) { [self] request, p, response in
            withTemplate(request, p[0], response, templates) { template, viewer, response in
                response.writeJSON(status: 200) { CanvasJSON.choices(template.choices, of: template.id, owner: viewer.isOrganizer, &$0) }
            }
        }
        group.add(.post, choices) { [self] request, p, response in saveChoice(request, p[0], nil, response, templates) }
        group.add(.get, choices + "/{id}") { [self] request, p, response in
            let choiceID = id(p[1])
            withTemplate(request, p[0], response, templates) { template, viewer, response in
                guard let choice = template.choices.first(where: { $0.id == choiceID }) else { return style.notFound(response) }
                response.writeJSON(status: 200) { CanvasJSON.choices([choice], of: template.id, owner: viewer.isOrganizer, &$0) }
            }
        }
        group.add(.put, choices + "/{id}") { [self] request, p, response in saveChoice(request, p[0], p[1], response, templates) }
        group.add(.delete, choices + "/{id}") { [self] request, p, response in deleteChoice(request, p[0], p[1], response, templates) }
        group.add(.get, sessionsPath) { [self] request, p, response in
            withTemplate(request, p[0], response, templates, organizerOnly: true) { [self] template, viewer, response in
                guard let sessions = sessions(of: [template.id], response, desks.polls)?[template.id] else { return }
                writeSessions(sessions, viewer, request, response, desks)
            }
        }
        group.add(.post, sessionsPath) { [self] request, p, response in createSession(request, p[0], response, desks, templates) }
        group.add(.get, sessionsPath + "/{id}") { [self] request, p, response in
            guard let (session, viewer) = session(request, p[0], p[1], response, desks.polls) else { return }
            writeSessions([session], viewer, request, response, desks)
        }
        group.add(.put, sessionsPath + "/{id}") { [self] request, p, response in updateSession(request, p[0], p[1], response, desks) }
        group.add(.delete, sessionsPath + "/{id}") { [self] request, p, response in
            guard let (session, viewer) = session(request, p[0], p[1], response, desks.polls) else { return }
            guard viewer.isOrganizer else { return style.forbidden(response) }
            desks.polls.delete(session.id, response, style) { $0.write(status: 204, contentType: nil, body: UnsafeRawBufferPointer(start: nil, count: 0)) }
        }
        group.add(.get, sessionsPath + "/{id}/open") { [self] request, p, response in publish(request, p[0], p[1], .open, response, desks) }
        group.add(.get, sessionsPath + "/{id}/close") { [self] request, p, response in publish(request, p[0], p[1], .closed, response, desks) }
        group.add(.get, "/api/v1/poll_sessions/opened") { [self] request, _, response in listSessions(request, opened: true, response, desks) }
        group.add(.get, "/api/v1/poll_sessions/closed") { [self] request, _, response in listSessions(request, opened: false, response, desks) }
    }

    // MARK: - Callers and lookups

    /// An organizer (a teacher) or a voter (a student); nil after answering 401.
    private func viewer(_ request: Request, _ response: ResponseWriter) -> Viewer? {
        access.caller(request, response, style, required: true)?.0
    }

    private func id(_ text: UnsafeRawBufferPointer) -> Int64? { PollIDs.parse(text).flatMap { Int64(exactly: $0) } }

    /// Loads the template `idText` names and answers with `body` (a deferred answer), or 404.
    private func withTemplate(
        _ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ templates: CanvasTemplates,
        organizerOnly: Bool = false, _ body: @escaping (CanvasTemplate, Viewer, ResponseWriter) -> Void
    ) {
        guard let viewer = viewer(request, response) else { return }
        guard !organizerOnly || viewer.isOrganizer else { return style.forbidden(response) }
        guard let id = id(idText) else { return style.notFound(response) }
        let later = response.deferred()
        templates.load(id) { [style] result in
            later.complete { response in
                switch result {
                case .failure: style.writeUnavailable(response)
                case .success(nil): style.notFound(response)
                case .success(let template?): body(template, viewer, response)
                }
            }
        }
    }

    /// The session `idText` under poll `pollText`, as its viewer; nil after answering 401 or 404,
    /// or while the session is loaded.
    private func session(
        _ request: Request, _ pollText: UnsafeRawBufferPointer, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desk: PollDesk
    ) -> (Poll, Viewer)? {
        guard let viewer = viewer(request, response) else { return nil }
        guard let id = PollIDs.parse(idText) else {
            style.notFound(response)
            return nil
        }
        guard let session = desk.find(id, response, style) else { return nil }
        guard session.label(CanvasJSON.Label.poll, is: pollText) else {
            style.notFound(response)
            return nil
        }
        return (session, viewer)
    }

    /// The sessions of each of `templates`; nil while some are loaded.
    private func sessions(of templates: [Int64], _ response: ResponseWriter, _ desk: PollDesk) -> [Int64: [Poll]]? {
        var sessions: [Int64: [Poll]] = [:]
        var toLoad: [PollID] = []
        for template in templates {
            switch registry.list(labels: [CanvasJSON.Label.poll: String(template)]) {
            case .polls(let polls, _): sessions[template] = polls
            case .load(let ids): toLoad += ids
            }
        }
        guard toLoad.isEmpty else { return desk.listed(.load(toLoad), response, style).map { _ in [:] } }
        return sessions
    }

    /// The polls with their sessions' results, once those are all held.
    private func writePolls(_ templates: [CanvasTemplate], teacher: Bool, _ response: ResponseWriter, _ desk: PollDesk) {
        guard let sessions = sessions(of: templates.map(\.id), response, desk) else { return }
        writePolls(templates, teacher: teacher, sessions: sessions, response)
    }

    private func writePolls(_ templates: [CanvasTemplate], teacher: Bool, sessions: [Int64: [Poll]], _ response: ResponseWriter) {
        response.writeJSON(status: 200) { json in CanvasJSON.polls(templates, teacher: teacher, sessions: { sessions[$0] ?? [] }, &json) }
    }

    /// The sessions as `viewer` sees them: for a teacher, every submission, read from Redis; for a
    /// student, their own, looked up in Redis (they may have submitted through another daemon).
    private func writeSessions(_ sessions: [Poll], _ viewer: Viewer, _ request: Request, _ response: ResponseWriter, _ desks: LoopDesks) {
        let write = { (ballots: [PollID: [(voter: String, ballot: Ballot)]], response: ResponseWriter) in
            response.writeJSON(status: 200) { CanvasJSON.sessions(sessions, viewer: viewer, ballots: ballots, &$0) }
        }
        guard viewer.isOrganizer else {
            var voter: VoterIdentity?
            if case .voter(let identity) = access.voter(request, now: WallClock.now() / 1_000_000) { voter = identity }
            return desks.polls.withBallots(of: voter, in: sessions, response) { write([:], $0) }
        }
        guard !sessions.isEmpty, desks.store.isConnected else { return write([:], response) }
        let later = response.deferred()
        var pending = sessions.count
        var ballots: [PollID: [(voter: String, ballot: Ballot)]] = [:]
        for session in sessions {
            desks.store.ballots(of: session.storeShards) { [style] found in
                ballots[session.id] = found
                pending -= 1
                guard pending == 0 else { return }
                later.complete { response in
                    guard ballots.count == sessions.count else { return style.writeUnavailable(response) }
                    write(ballots, response)
                }
            }
        }
    }

    // MARK: - Polls and choices (teachers)

    private func createPoll(_ request: Request, _ response: ResponseWriter, _ templates: CanvasTemplates) {
        guard let viewer = viewer(request, response) else { return }
        guard viewer.isOrganizer else { return style.forbidden(response) }
        let params = CanvasParams(request, plural: "polls", singular: "poll")
        guard let question = params["question"], !question.isEmpty else { return style.invalid("question", "can't be blank", response) }
        let later = response.deferred()
        templates.newID { [style] id in
            guard let id else { return later.complete { style.writeUnavailable($0) } }
            let template = CanvasTemplate(id: id, question: question, description: params["description"] ?? "", createdAt: WallClock.now(), choices: [])
            templates.save(template) { [self] saved in
                later.complete { saved ? writePolls([template], teacher: true, sessions: [:], $0) : style.writeUnavailable($0) }
            }
        }
    }

    private func updatePoll(_ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ templates: CanvasTemplates, _ desk: PollDesk) {
        let params = CanvasParams(request, plural: "polls", singular: "poll")
        withTemplate(request, idText, response, templates, organizerOnly: true) { [self] template, _, response in
            var changed = template
            if let question = params["question"] { changed.question = question }
            if let description = params["description"] { changed.description = description }
            guard !changed.question.isEmpty else { return style.invalid("question", "can't be blank", response) }
            // Its sessions before it is saved: loading them handles the request again from the start.
            guard let sessions = sessions(of: [template.id], response, desk) else { return }
            let later = response.deferred()
            templates.save(changed) { [self] saved in
                later.complete { saved ? writePolls([changed], teacher: true, sessions: sessions, $0) : style.writeUnavailable($0) }
            }
        }
    }

    /// Deletes the poll, its choices and its sessions (with their submissions); 204.
    private func deletePoll(_ request: Request, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desks: LoopDesks, _ templates: CanvasTemplates) {
        withTemplate(request, idText, response, templates, organizerOnly: true) { [self] template, _, response in
            guard let sessions = sessions(of: [template.id], response, desks.polls)?[template.id] else { return }
            let later = response.deferred()
            for session in sessions {
                desks.store.deletePoll(session.storeShards) { [registry] deleted in if deleted { registry.forget(session.id) } }
            }
            templates.delete(template.id) { [style] deleted in
                later.complete { deleted ? $0.write(status: 204, contentType: nil, body: UnsafeRawBufferPointer(start: nil, count: 0)) : style.writeUnavailable($0) }
            }
        }
    }

    /// Creates (`choiceText` nil) or updates a choice: `text` required, `is_correct`, `position`
    /// (default: after the last). Choices apply to sessions created after them.
    private func saveChoice(
        _ request: Request, _ pollText: UnsafeRawBufferPointer, _ choiceText: UnsafeRawBufferPointer?, _ response: ResponseWriter,
        _ templates: CanvasTemplates
    ) {
        let params = CanvasParams(request, plural: "poll_choices", singular: "poll_choice")
        let choiceID = choiceText.map { id($0) }
        withTemplate(request, pollText, response, templates, organizerOnly: true) { [self] template, _, response in
            var choice: CanvasChoice
            if let choiceID {
                guard let found = template.choices.first(where: { $0.id == choiceID }) else { return style.notFound(response) }
                choice = found
            } else {
                choice = CanvasChoice(id: 0, text: "", isCorrect: false, position: (template.choices.map(\.position).max() ?? 0) + 1)
            }
            if let text = params["text"] { choice.text = text }
            if let isCorrect = params.flag("is_correct") { choice.isCorrect = isCorrect }
            if let position = params.integer("position") { choice.position = Int(position) }
            guard !choice.text.isEmpty else { return style.invalid("text", "can't be blank", response) }
            let later = response.deferred()
            let save = { [style] (choice: CanvasChoice) in
                templates.save(choice, of: template.id) { saved in
                    later.complete { response in
                        guard saved else { return style.writeUnavailable(response) }
                        response.writeJSON(status: 200) { CanvasJSON.choices([choice], of: template.id, owner: true, &$0) }
                    }
                }
            }
            if choiceID != nil { return save(choice) }
            templates.newID { [style] id in
                guard let id else { return later.complete { style.writeUnavailable($0) } }
                choice.id = id
                save(choice)
            }
        }
    }

    private func deleteChoice(
        _ request: Request, _ pollText: UnsafeRawBufferPointer, _ choiceText: UnsafeRawBufferPointer, _ response: ResponseWriter,
        _ templates: CanvasTemplates
    ) {
        let choiceID = id(choiceText)
        withTemplate(request, pollText, response, templates, organizerOnly: true) { [style] template, _, response in
            guard let choiceID, template.choices.contains(where: { $0.id == choiceID }) else { return style.notFound(response) }
            let later = response.deferred()
            templates.delete(choice: choiceID, of: template.id) { deleted in
                later.complete { deleted ? $0.write(status: 204, contentType: nil, body: UnsafeRawBufferPointer(start: nil, count: 0)) : style.writeUnavailable($0) }
            }
        }
    }

    // MARK: - Sessions

    /// `POST …/poll_sessions`: a Tally poll from the template's choices as they are now, not
    /// published yet; `course_id` required, `course_section_id` and `has_public_results` optional.
    private func createSession(_ request: Request, _ pollText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desks: LoopDesks, _ templates: CanvasTemplates) {
        let params = CanvasParams(request, plural: "poll_sessions", singular: "poll_session")
        withTemplate(request, pollText, response, templates, organizerOnly: true) { [self] template, _, response in
            // Canvas finds the course first and answers 404 without one.
            guard let course = params.integer("course_id") else { return style.notFound(response) }
            guard !template.choices.isEmpty else { return style.invalid("base", "A poll session needs the poll to have choices.", response) }
            var labels = [
                CanvasJSON.Label.poll: String(template.id), CanvasJSON.Label.course: String(course),
                CanvasJSON.Label.choices: template.choices.map { String($0.id) }.joined(separator: ","),
            ]
            if let section = params.integer("course_section_id") { labels[CanvasJSON.Label.section] = String(section) }
            let rules = PollRules(maxVotes: 1, revote: false, visibility: params.flag("has_public_results") == true ? .always : .organizerOnly, anonymous: false)
            let definition = PollDefinition(
                question: template.question, description: template.description, options: template.choices.map(\.text), rules: rules, labels: labels,
                createdAt: WallClock.now())
            desks.polls.create(definition, .draft, response, style) { session, response in
                response.writeJSON(status: 200) { CanvasJSON.sessions([session], viewer: .organizer, ballots: [:], &$0) }
            }
        }
    }

    private func updateSession(_ request: Request, _ pollText: UnsafeRawBufferPointer, _ idText: UnsafeRawBufferPointer, _ response: ResponseWriter, _ desks: LoopDesks) {
        guard let (session, viewer) = session(request, pollText, idText, response, desks.polls) else { return }
        guard viewer.isOrganizer else { return style.forbidden(response) }
        let params = CanvasParams(request, plural: "poll_sessions", singular: "poll_session")
        var definition = session.definition
        if let course = params.integer("course_id") { definition.labels[CanvasJSON.Label.course] = String(course) }
        if let section = params.integer("course_section_id") { definition.labels[CanvasJSON.Label.section] = String(section) }
        if let isPublic = params.flag("has_public_results") { definition.rules.visibility = isPublic ? .always : .organizerOnly }
        desks.polls.save(session.id, definition, session.lifecycle, response.deferred(), style, expected: session.version) { session, response in
            response.writeJSON(status: 200) { CanvasJSON.sessions([session], viewer: .organizer, ballots: [:], &$0) }
        }
    }

    /// `…/open` and `…/close` (GETs, as Canvas has them): publish or close; reopening a closed
    /// session publishes it again.
    private func publish(
        _ request: Request, _ pollText: UnsafeRawBufferPointer, _ idText: UnsafeRawBufferPointer, _ lifecycle: Lifecycle, _ response: ResponseWriter,
        _ desks: LoopDesks
    ) {
        guard let (session, viewer) = session(request, pollText, idText, response, desks.polls) else { return }
        guard viewer.isOrganizer else { return style.forbidden(response) }
        desks.polls.save(session.id, session.definition, lifecycle, response.deferred(), style, expected: session.version) { session, response in
            response.writeJSON(status: 200) { CanvasJSON.sessions([session], viewer: .organizer, ballots: [:], &$0) }
        }
    }

    /// `GET /api/v1/poll_sessions/opened` and `/closed`: every session open (closed) now; Tally
    /// has no enrollments, so a student sees every one.
    private func listSessions(_ request: Request, opened: Bool, _ response: ResponseWriter, _ desks: LoopDesks) {
        guard let viewer = viewer(request, response) else { return }
        let now = WallClock.now()
        // Polls let go of are closed: only the closed list may need them loaded.
        let query = PollQuery(lifecycle: opened ? .open : nil, labelNames: [CanvasJSON.Label.poll])
        guard let listed = desks.polls.listed(registry.list(query), response, style) else { return }
        let sessions = listed.polls.filter { $0.lifecycle != .draft && $0.isClosed(at: now) != opened }
        writeSessions(sessions, viewer, request, response, desks)
    }

    /// `GET …/poll_submissions/:id`: the teacher's, or the student's own.
    private func submission(
        _ request: Request, _ pollText: UnsafeRawBufferPointer, _ sessionText: UnsafeRawBufferPointer, _ idText: UnsafeRawBufferPointer,
        _ response: ResponseWriter, _ desks: LoopDesks
    ) {
        guard let (session, viewer) = session(request, pollText, sessionText, response, desks.polls), let wanted = id(idText) else { return }
        let later = response.deferred()
        desks.store.ballots(of: session.storeShards) { [style] ballots in
            later.complete { response in
                guard let ballots else { return style.writeUnavailable(response) }
                guard let (voter, ballot) = ballots.first(where: { CanvasJSON.submissionID(session.id, VoterKey(id: $0.voter)) == wanted }),
                    viewer.isOrganizer || viewer.voter == VoterKey(id: voter)
                else { return style.notFound(response) }
                response.writeJSON(status: 200) { json in
                    json.object { root in
                        root.key("poll_submissions")
                        root.array { list in
                            CanvasJSON.submission(session, voter: VoterKey(id: voter), option: ballot.options.first { _ in true }, CanvasJSON.choiceIDs(session), &list)
                        }
                    }
                }
            }
        }
    }
}
