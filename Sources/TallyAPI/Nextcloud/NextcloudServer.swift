import TallyHTTP

/// The server documents nc-py-api reads lazily: `cloud/capabilities` (the server version and
/// Talk's capabilities, for its feature checks) and `cloud/user` (who the credentials are). The
/// version is the Nextcloud release whose Talk poll API Tally reproduces (Talk 21 on Nextcloud 31);
/// `edition` says it is Tally.
enum NextcloudServer {
    static func capabilities(_ json: inout JSONWriter) {
        json.object { data in
            data.key("version")
            data.object { version in
                version.field("major", 31)
                version.field("minor", 0)
                version.field("micro", 0)
                version.field("string", "31.0.0")
                version.field("edition", string: "Tally \(TallyVersion.current)")
                version.field("extendedSupport", false)
            }
            data.key("capabilities")
            data.object { capabilities in
                capabilities.key("spreed")
                capabilities.object { spreed in
                    spreed.key("features")
                    spreed.array { features in
                        features.value("talk-polls")
                        features.value("talk-polls-drafts")
                    }
                    spreed.key("config")
                    spreed.object { config in
                        config.key("chat")
                        config.object { chat in
                            chat.field("max-length", NextcloudPollRequest.maxQuestionBytes)
                            chat.field("read-privacy", 0)
                            chat.field("typing-privacy", 0)
                        }
                    }
                    spreed.field("version", "21.0.0")
                }
            }
        }
    }

    /// `cloud/user` as far as a poll client needs it: the caller's id and display name.
    static func user(_ id: String, _ json: inout JSONWriter) {
        json.object { user in
            user.field("id", string: id)
            user.field("display-name", string: id)
            user.field("displayname", string: id)
        }
    }
}
