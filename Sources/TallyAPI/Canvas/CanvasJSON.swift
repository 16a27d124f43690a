import TallyCore
import TallyHTTP

/// Canvas' poll objects (`app/serializers/polling/*` of instructure/canvas-lms), each answer
/// wrapped in its plural key. A session is a Tally poll made from its template's choices; its
/// labels keep the template, course, section and the choice id of each option.
enum CanvasJSON {
    enum Label {
        static let poll = "canvas.poll"
        static let course = "canvas.course"
        static let section = "canvas.section"
        /// The choice id of each option, in option order: `12,13,14`.
        static let choices = "canvas.choices"
    }

    /// `{"polls":[…]}` as `Polling::PollSerializer` writes them: `total_results` (each choice id's
    /// submissions, summed over the poll's sessions) and `user_id` for teachers only.
    static func polls(_ templates: [CanvasTemplate], teacher: Bool, sessions: (Int64) -> [Poll], _ json: inout JSONWriter) {
        let now = WallClock.now()
        json.object { root in
            root.key("polls")
            root.array { list in
                for template in templates {
                    list.object { poll in
                        poll.field("id", template.id)
                        poll.field("question", string: template.question)
                        poll.field("description", string: template.description)
                        if teacher {
                            var totals: [Int64: Int64] = [:]
                            for session in sessions(template.id) {
                                let results = session.results(for: .organizer, now: now)
                                for (option, choice) in choiceIDs(session).enumerated() { totals[choice, default: 0] += results.count(of: option) }
                            }
                            poll.key("total_results")
                            poll.object { counts in
                                for (choice, count) in totals.sorted(by: { $0.key < $1.key }) where count > 0 {
                                    counts.key(string: String(choice))
                                    counts.value(count)
                                }
                            }
                        }
                        poll.key("created_at")
                        Timestamps.writeJSON(template.createdAt, to: &poll)
                        if teacher {
                            poll.key("user_id")
                            poll.null()
                        }
                    }
                }
            }
        }
    }

    /// `{"poll_choices":[…]}`; `is_correct` for the poll's owner only.
    static func choices(_ choices: [CanvasChoice], of template: Int64, owner: Bool, _ json: inout JSONWriter) {
        json.object { root in
            root.key("poll_choices")
            root.array { list in
                for choice in choices {
                    list.object { item in
                        item.field("id", choice.id)
                        item.field("poll_id", template)
                        item.field("text", string: choice.text)
                        if owner { item.field("is_correct", choice.isCorrect) }
                        item.field("position", choice.position)
                    }
                }
            }
        }
    }

    /// `{"poll_sessions":[…]}`. `has_public_results` and `results` only for whoever may see
    /// results (the owner, or all when public); `poll_submissions` all of them for the owner (from
    /// `ballots`), else the viewer's own.
    static func sessions(_ sessions: [Poll], viewer: Viewer, ballots: [PollID: [(voter: String, ballot: Ballot)]], _ json: inout JSONWriter) {
        let now = WallClock.now()
        json.object { root in
            root.key("poll_sessions")
            root.array { list in
                for session in sessions {
                    let labels = session.definition.labels
                    let choiceIDs = choiceIDs(session)
                    let results = session.results(for: viewer, now: now)
                    let own = viewer.voter.map { session.ballot(of: $0) } ?? .empty
                    list.object { item in
                        item.field("id", Int64(bitPattern: session.id))
                        item.field("is_published", session.lifecycle == .open && !session.isClosed(at: now))
                        if results.showsCounts {
                            item.field("has_public_results", session.definition.rules.visibility == .always)
                            item.key("results")
                            item.object { counts in
                                for (option, choice) in choiceIDs.enumerated() where results.count(of: option) > 0 {
                                    counts.key(string: String(choice))
                                    counts.value(results.count(of: option))
                                }
                            }
                        }
                        item.field("course_id", Int64(labels[Label.course] ?? "") ?? 0)
                        item.key("course_section_id")
                        if let section = labels[Label.section].flatMap({ Int64($0) }) { item.value(section) } else { item.null() }
                        item.key("created_at")
                        Timestamps.writeJSON(session.definition.createdAt, to: &item)
                        item.field("poll_id", Int64(labels[Label.poll] ?? "") ?? 0)
                        item.key("poll_submissions")
                        item.array { submissions in
                            if results.showsCounts && viewer.isOrganizer {
                                for (voter, ballot) in ballots[session.id] ?? [] {
                                    submission(session, voter: VoterKey(id: voter), option: ballot.options.first { _ in true }, choiceIDs, &submissions)
                                }
                            } else if let voter = viewer.voter, !own.isEmpty {
                                submission(session, voter: voter, option: own.options.first { _ in true }, choiceIDs, &submissions)
                            }
                        }
                        item.field("has_submitted", !own.isEmpty)
                    }
                }
            }
        }
    }

    /// One PollSubmission. Tally keeps no time per vote, nor numeric user ids: `created_at` is the
    /// session's, `user_id` and `id` are numbers derived from the voter (stable, below 2^53).
    static func submission(_ session: Poll, voter: VoterKey, option: Int?, _ choiceIDs: [Int64], _ json: inout JSONWriter) {
        json.object { item in
            item.field("id", submissionID(session.id, voter))
            item.key("poll_choice_id")
            if let option, option < choiceIDs.count { item.value(choiceIDs[option]) } else { item.null() }
            item.field("user_id", userID(voter))
            item.key("created_at")
            Timestamps.writeJSON(session.definition.createdAt, to: &item)
        }
    }

    /// From the part of the voter's key that is the same on every daemon (`VoterKey.high`).
    static func userID(_ voter: VoterKey) -> Int64 { Int64(voter.high & 0x1F_FFFF_FFFF_FFFF) }

    static func submissionID(_ session: PollID, _ voter: VoterKey) -> Int64 {
        Int64((voter.high ^ session &* 0x9E37_79B9_7F4A_7C15) & 0x1F_FFFF_FFFF_FFFF)
    }

    /// The choice id of each of a session's options (admin path).
    static func choiceIDs(_ session: Poll) -> [Int64] {
        (session.definition.labels[Label.choices] ?? "").split(separator: ",").compactMap { Int64($0) }
    }
}
