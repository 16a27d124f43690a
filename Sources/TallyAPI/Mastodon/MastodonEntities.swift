import TallyCore
import TallyHTTP

/// Mastodon's entities as its REST serializers write them (`app/serializers/rest/*` of
/// mastodon/mastodon): the Poll (vote path: no allocation), and the Status, Account and Instance
/// around it (admin path).
enum MastodonEntities {
    /// The Poll entity (REST::PollSerializer): `voted` and `own_votes` only for a request with a
    /// user token (`withUser`); each option's `votes_count` null while the viewer may not see
    /// results (`hide_totals` until the poll ends), the totals always; `voters_count` null unless
    /// the poll takes several choices.
    static func poll(_ poll: Poll, viewer: Viewer, own: Ballot, withUser: Bool, now: Timestamp, _ json: inout JSONWriter) {
        let definition = poll.definition
        let all = poll.results(for: .organizer, now: now)
        let showsCounts = poll.showsResults(to: viewer, now: now)
        let multiple = definition.rules.maxVotes != 1
        json.object { body in
            body.key("id")
            body.value(decimalString: poll.id)
            body.key("expires_at")
            if let closesAt = definition.rules.closesAt { Timestamps.writeJSON(closesAt, to: &body) } else { body.null() }
            body.field("expired", all.isClosed)
            body.field("multiple", multiple)
            body.field("votes_count", all.totalVotes)
            body.key("voters_count")
            if multiple { body.value(all.voters) } else { body.null() }
            if withUser {
                body.field("voted", !own.isEmpty)
                body.key("own_votes")
                body.array { list in
                    for option in own.options { list.value(option) }
                }
            }
            body.key("options")
            body.array { list in
                for (index, title) in definition.options.enumerated() {
                    list.object { option in
                        option.field("title", string: title)
                        option.key("votes_count")
                        if showsCounts { option.value(all.count(of: index)) } else { option.null() }
                    }
                }
            }
            body.key("emojis")
            body.array { _ in }
        }
    }

    /// The Status entity around a poll (REST::StatusSerializer): its text is the poll's question.
    static func status(_ poll: Poll, _ page: Page, viewer: Viewer, own: Ballot, withUser: Bool, _ json: inout JSONWriter) {
        let definition = poll.definition
        let labels = definition.labels
        let author = MastodonAuthor(definition.organizer)
        json.object { body in
            body.key("id")
            body.value(decimalString: poll.id)
            body.key("created_at")
            Timestamps.writeJSON(definition.createdAt, to: &body)
            body.key("in_reply_to_id")
            body.null()
            body.key("in_reply_to_account_id")
            body.null()
            body.field("sensitive", labels[MastodonLabels.sensitive] == "true")
            body.field("spoiler_text", string: labels[MastodonLabels.spoilerText] ?? "")
            body.field("visibility", string: labels[MastodonLabels.visibility] ?? "public")
            body.key("language")
            if let language = labels[MastodonLabels.language] { body.value(string: language) } else { body.null() }
            body.field("uri", string: "\(page.base)/users/\(author.username)/statuses/\(poll.id)")
            body.field("url", string: "\(page.base)/@\(author.username)/\(poll.id)")
            body.field("replies_count", 0)
            body.field("reblogs_count", 0)
            body.field("favourites_count", 0)
            body.key("edited_at")
            body.null()
            if withUser {
                body.field("favourited", false)
                body.field("reblogged", false)
                body.field("muted", false)
                body.field("bookmarked", false)
            }
            body.field("content", string: html(definition.question))
            body.key("filtered")
            body.array { _ in }
            body.key("reblog")
            body.null()
            body.key("application")
            body.null()
            body.key("account")
            account(author, createdAt: definition.createdAt, page, &body)
            for empty: StaticString in ["media_attachments", "mentions", "tags", "emojis"] {
                body.key(empty)
                body.array { _ in }
            }
            body.key("card")
            body.null()
            body.key("poll")
            MastodonEntities.poll(poll, viewer: viewer, own: own, withUser: withUser, now: WallClock.now(), &body)
        }
    }

    /// The Account entity of a poll's author (REST::AccountSerializer).
    static func account(_ author: MastodonAuthor, createdAt: Timestamp, _ page: Page, _ json: inout JSONWriter) {
        json.object { body in
            body.field("id", string: author.id)
            body.field("username", string: author.username)
            body.field("acct", string: author.username)
            body.field("display_name", string: author.username)
            body.field("locked", false)
            body.field("bot", false)
            body.field("discoverable", false)
            body.field("group", false)
            body.key("created_at")
            Timestamps.writeJSON(createdAt - createdAt % 86_400_000_000, to: &body)  // Mastodon shows the day
            body.field("note", "")
            body.field("url", string: "\(page.base)/@\(author.username)")
            body.field("uri", string: "\(page.base)/users/\(author.username)")
            for image: StaticString in ["avatar", "avatar_static", "header", "header_static"] { body.field(image, "") }
            body.field("followers_count", 0)
            body.field("following_count", 0)
            body.field("statuses_count", 0)
            body.key("last_status_at")
            body.null()
            body.key("emojis")
            body.array { _ in }
            body.key("fields")
            body.array { _ in }
        }
    }

    /// Text as Mastodon renders a plain-text post: HTML-escaped, a paragraph, newlines as breaks.
    static func html(_ text: String) -> String {
        var out = "<p>"
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n": out += "<br />"
            default: out.append(character)
            }
        }
        return out + "</p>"
    }

    /// Where the request came from, for the entities' URLs.
    struct Page {
        /// From the request's Host header.
        let host: String
        /// `http://host/prefix`.
        let base: String
    }
}

/// Who wrote a poll's status: the voter who created it, or the organizers (`organizer` nil).
struct MastodonAuthor {
    let id: String
    let username: String

    init(_ voter: String?) {
        guard let voter else {
            id = "1"
            username = "organizer"
            return
        }
        username = voter
        // A stable numeric id (Mastodon's ids are decimal strings): FNV-1a over the voter id, kept
        // below 2^62 and above the organizers' 1.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in voter.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        id = String(hash >> 2 | 2)
    }
}

/// The labels a Mastodon status keeps on its poll (Tally stores polls, not posts).
enum MastodonLabels {
    static let visibility = "mastodon.visibility"
    static let sensitive = "mastodon.sensitive"
    static let spoilerText = "mastodon.spoiler_text"
    static let language = "mastodon.language"
}
