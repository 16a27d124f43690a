import TallyHTTP

/// `GET /api/v1/instance` and `/api/v2/instance`: what Mastodon.py reads to decide which calls the
/// server supports. `version` is the Mastodon release whose poll API Tally reproduces, new enough
/// that no version-check mode of Mastodon.py 2.3 refuses the poll calls (`status_post` last changed
/// in 4.6.0 there); `configuration.polls` holds the limits Tally enforces here.
enum MastodonInstance {
    static let version = "4.6.0 (compatible; Tally \(TallyVersion.current))"
    /// `api_versions.mastodon` (an integer since Mastodon 4.3).
    static let apiVersion = 7

    static func v1(_ page: MastodonEntities.Page, _ json: inout JSONWriter) {
        json.object { body in
            body.field("uri", string: page.host)
            body.field("title", "Tally")
            body.field("short_description", "Polls at live-event scale")
            body.field("description", "Polls at live-event scale, served by Tally")
            body.field("email", "")
            body.field("version", string: version)
            body.key("urls")
            body.object { $0.field("streaming_api", "") }
            body.key("stats")
            body.object { stats in
                stats.field("user_count", 0)
                stats.field("status_count", 0)
                stats.field("domain_count", 0)
            }
            body.key("thumbnail")
            body.null()
            body.key("languages")
            body.array { $0.value("en") }
            body.field("registrations", false)
            body.field("approval_required", false)
            body.field("invites_enabled", false)
            body.key("configuration")
            configuration(&body)
            body.key("contact_account")
            body.null()
            body.key("rules")
            body.array { _ in }
        }
    }

    static func v2(_ page: MastodonEntities.Page, _ json: inout JSONWriter) {
        json.object { body in
            body.field("domain", string: page.host)
            body.field("title", "Tally")
            body.field("version", string: version)
            body.field("source_url", "")
            body.field("description", "Polls at live-event scale, served by Tally")
            body.key("usage")
            body.object { usage in
                usage.key("users")
                usage.object { $0.field("active_month", 0) }
            }
            body.key("thumbnail")
            body.object { $0.field("url", "") }
            body.key("languages")
            body.array { $0.value("en") }
            body.key("configuration")
            configuration(&body)
            body.key("registrations")
            body.object { registrations in
                registrations.field("enabled", false)
                registrations.field("approval_required", false)
                registrations.key("message")
                registrations.null()
            }
            body.key("contact")
            body.object { contact in
                contact.field("email", "")
                contact.key("account")
                contact.null()
            }
            body.key("rules")
            body.array { _ in }
            body.key("api_versions")
            body.object { $0.field("mastodon", apiVersion) }
        }
    }

    private static func configuration(_ json: inout JSONWriter) {
        json.object { configuration in
            configuration.key("statuses")
            configuration.object { statuses in
                statuses.field("max_characters", MastodonStatusRequest.maxCharacters)
                statuses.field("max_media_attachments", 0)
                statuses.field("characters_reserved_per_url", 23)
            }
            configuration.key("polls")
            configuration.object { polls in
                polls.field("max_options", MastodonStatusRequest.maxOptions)
                polls.field("max_characters_per_option", MastodonStatusRequest.maxOptionCharacters)
                polls.field("min_expiration", MastodonStatusRequest.minExpiration)
                polls.field("max_expiration", MastodonStatusRequest.maxExpiration)
            }
        }
    }
}
