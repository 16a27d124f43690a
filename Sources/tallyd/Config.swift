import Foundation
import TOMLKit
import TallyAPI
import TallyHTTP
import TallyCore

/// Everything `tallyd` is configured with: a TOML file (every key documented in
/// `config.example.toml`), then environment overrides `TALLY_<SECTION>_<KEY>`, e.g.
/// `TALLY_SERVER_LISTEN=0.0.0.0:8080`; list values are comma-separated there.
struct TallyConfig {
    var listenHost = "127.0.0.1"
    var listenPort = 8080
    var loops = 1
    var limits = HTTPLimits()
    var organizerTokens: [String] = []
    var voterSecret: [UInt8] = []
    var trustedProxies: [PeerAddress] = []
    /// Redis, the system of record; nil until configured (`scripts/run` starts one).
    var redisHost: String?
    var redisPort = 6379
    /// A Redis Cluster's seed nodes ("host:port"), instead of `address`.
    var redisCluster: [String] = []
    var maxPendingVotes = 16_384
    var batching = true
    var redisTimeoutMilliseconds = 1_000
    /// How often viewed polls' results are read back from Redis (0: never).
    var resultsRefreshMilliseconds = 250
    /// A closed poll nobody read for this long leaves memory (Redis keeps it; 0: never).
    var keepClosedSeconds = 600
    /// The live-event pages (`/live/{id}`, `/vote/{id}`, `/console`) are served.
    var pages = true
    /// Scheme and host of the voting page's URL in QR codes (nil: `http://` and the request's Host).
    var publicURL: String?
    /// Take votes even from a Redis without an append-only file.
    var allowVolatile = false
    /// Replicas that must confirm a batch of votes (`WAIT`) before they are answered.
    var replicasToAck = 0
    /// Shards in Redis of a poll created without its own count (nil: `LoopStore.defaultShards`).
    var shards: Int?
    /// Voter tokens may create polls in the dialects whose upstream lets any user do so.
    var votersCreatePolls = false
    /// Where each dialect is mounted, and whether it is.
    var dialects = DialectMount.defaults

    /// Reads `path` (if any) and the environment. Errors name the key, the problem and the line.
    static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> TallyConfig {
        var config = TallyConfig()
        if let path {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw ConfigError("\(path): cannot read: \(error.localizedDescription)")
            }
            try config.apply(toml: text, source: path)
        }
        try config.apply(environment: environment)
        try config.validate()
        return config
    }

    private mutating func apply(toml text: String, source: String) throws(ConfigError) {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw ConfigError("\(source): line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            throw ConfigError("\(source): \(error)")
        }
        let locate = { (section: String, key: String?) in ConfigKey.line(of: key, in: section, text: text).map { " (line \($0))" } ?? "" }
        // [dialects.NAME] tables are sections named "dialects.NAME".
        var sections: [(String, TOMLTable)] = []
        for name in table.keys {
            guard let members = table[name]?.table else { continue }
            if name == "dialects" {
                for dialect in members.keys { sections.append(("dialects.\(dialect)", members[dialect]?.table ?? TOMLTable())) }
            } else {
                sections.append((name, members))
            }
        }
        for name in table.keys where table[name]?.table == nil {
            throw ConfigError("\(source): '\(name)' must be a section, like [server]\(locate(name, nil))")
        }
        for (section, members) in sections {
            guard ConfigKey.sections.contains(section) else {
                throw ConfigError("\(source): unknown section [\(section)]\(locate(section, nil)); known: \(ConfigKey.sections.joined(separator: ", "))")
            }
            for name in members.keys {
                guard let key = ConfigKey.all.first(where: { $0.section == section && $0.name == name }) else {
                    throw ConfigError("\(source): unknown key '\(name)' in [\(section)]\(locate(section, name))")
                }
                do throws(ConfigProblem) {
                    try key.apply(&self, .toml(members[name]!))
                } catch {
                    throw ConfigError("\(source): [\(section)] \(name): \(error.problem)\(locate(section, name))")
                }
            }
        }
    }

    private mutating func apply(environment: [String: String]) throws(ConfigError) {
        for key in ConfigKey.all {
            guard let text = environment[key.environmentName] else { continue }
            do throws(ConfigProblem) {
                try key.apply(&self, .text(text))
            } catch {
                throw ConfigError("\(key.environmentName): \(error.problem)")
            }
        }
    }

    /// The keys that still hold `config.example.toml`'s placeholders ("change-me-…"): anyone who
    /// read the example could sign voter tokens or act as an organizer.
    var placeholderKeys: [String] {
        let placeholder = "change-me"
        return (organizerTokens.contains { $0.hasPrefix(placeholder) } ? ["[auth] organizer_tokens"] : [])
            + (String(decoding: voterSecret, as: UTF8.self).hasPrefix(placeholder) ? ["[auth] voter_secret"] : [])
    }

    /// Whether `listen` is reachable from this machine only (127.0.0.0/8 or ::1).
    var listensOnLoopbackOnly: Bool { listenHost.hasPrefix("127.") || listenHost == "::1" }

    private func validate() throws(ConfigError) {
        if let overlap = DialectMount.overlap(in: dialects) { throw ConfigError(overlap) }
        if redisHost != nil && !redisCluster.isEmpty {
            throw ConfigError("[redis] address and cluster: set one, address for one Redis, cluster for a Redis Cluster's seed nodes")
        }

        guard voterSecret.count >= 16 else {
            throw ConfigError(
                "[auth] voter_secret: set it (or voter_secret_file, or TALLY_AUTH_VOTER_SECRET) to at least 16 bytes; "
                    + "it signs voter tokens")
        }
    }
}

/// Why the configuration cannot be used.
struct ConfigError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A value from TOML or, as text, from the environment.
enum ConfigValue {
    case toml(TOMLValueConvertible)
    case text(String)

    func string() throws(ConfigProblem) -> String {
        switch self {
        case .toml(let value):
            guard let text = value.string else { throw ConfigProblem("must be a string") }
            return text
        case .text(let text): return text
        }
    }

    func integer(_ range: ClosedRange<Int>) throws(ConfigProblem) -> Int {
        let number: Int?
        switch self {
        case .toml(let value): number = value.int
        case .text(let text): number = Int(text)
        }
        guard let number, range.contains(number) else {
            throw ConfigProblem("must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func boolean() throws(ConfigProblem) -> Bool {
        switch self {
        case .toml(let value):
            guard let flag = value.bool else { throw ConfigProblem("must be true or false") }
            return flag
        case .text(let text):
            guard let flag = Bool(text) else { throw ConfigProblem("must be true or false") }
            return flag
        }
    }

    func strings() throws(ConfigProblem) -> [String] {
        switch self {
        case .toml(let value):
            guard let array = value.array else { throw ConfigProblem("must be an array of strings") }
            var strings: [String] = []
            for element in array {
                guard let text = element.string else { throw ConfigProblem("must be an array of strings") }
                strings.append(text)
            }
            return strings
        case .text(let text):
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }
}

struct ConfigProblem: Error {
    let problem: String
    init(_ problem: String) { self.problem = problem }
}

/// One configuration key: where it lives, what it takes, how it applies.
struct ConfigKey: Sendable {
    let section: String
    let name: String
    let apply: @Sendable (inout TallyConfig, ConfigValue) throws(ConfigProblem) -> Void

    var environmentName: String { "TALLY_\(section.uppercased().replacingOccurrences(of: ".", with: "_"))_\(name.uppercased())" }

    static let sections = ["server", "auth", "redis"] + Dialect.allCases.map { "dialects.\($0.rawValue)" }

    static let all: [ConfigKey] = [
        ConfigKey(section: "server", name: "listen") { config, value throws(ConfigProblem) in
            (config.listenHost, config.listenPort) = try parseListen(try value.string())
        },
        ConfigKey(section: "server", name: "loops") { config, value throws(ConfigProblem) in
            config.loops = try value.integer(1...64)
        },
        limit("max_connections", 1...1_000_000) { $0.maxConnections = $1 },
        limit("max_header_bytes", 512...1_048_576) { $0.maxHeaderBytes = $1 },
        limit("max_header_count", 8...1_000) { $0.maxHeaderCount = $1 },
        limit("max_body_bytes", 64...16_777_216) { $0.maxBodyBytes = $1 },
        limit("header_timeout_ms", 10...3_600_000) { $0.headerTimeoutMilliseconds = $1 },
        limit("body_timeout_ms", 10...3_600_000) { $0.bodyTimeoutMilliseconds = $1 },
        limit("idle_timeout_ms", 10...86_400_000) { $0.idleTimeoutMilliseconds = $1 },
        limit("drain_timeout_ms", 0...3_600_000) { $0.drainTimeoutMilliseconds = $1 },
        ConfigKey(section: "server", name: "keep_closed_s") { config, value throws(ConfigProblem) in
            config.keepClosedSeconds = try value.integer(0...31_536_000)
        },
        ConfigKey(section: "server", name: "pages") { config, value throws(ConfigProblem) in
            config.pages = try value.boolean()
        },
        ConfigKey(section: "server", name: "public_url") { config, value throws(ConfigProblem) in
            let url = try value.string()
            guard url.hasPrefix("http://") || url.hasPrefix("https://"), !url.contains(where: { $0 == " " || $0 == "\"" }) else {
                throw ConfigProblem("must be an http:// or https:// URL, e.g. https://vote.example.com")
            }
            config.publicURL = url
        },
        ConfigKey(section: "auth", name: "organizer_tokens") { config, value throws(ConfigProblem) in
            let tokens = try value.strings()
            guard tokens.allSatisfy({ $0.utf8.count >= 16 }) else { throw ConfigProblem("each token needs at least 16 characters") }
            config.organizerTokens = tokens
        },
        ConfigKey(section: "auth", name: "voter_secret") { config, value throws(ConfigProblem) in
            config.voterSecret = Array(try value.string().utf8)
        },
        ConfigKey(section: "auth", name: "voter_secret_file") { config, value throws(ConfigProblem) in
            let path = try value.string()
            guard let data = FileManager.default.contents(atPath: path) else { throw ConfigProblem("cannot read \(path)") }
            config.voterSecret = Array(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        },
        ConfigKey(section: "auth", name: "voters_create_polls") { config, value throws(ConfigProblem) in
            config.votersCreatePolls = try value.boolean()
        },
        ConfigKey(section: "auth", name: "trusted_proxies") { config, value throws(ConfigProblem) in
            config.trustedProxies = try value.strings().map { text throws(ConfigProblem) in
                guard let address = PeerAddress(parsing: text) else { throw ConfigProblem("'\(text)' is not an IP address") }
                return address
            }
        },
        ConfigKey(section: "redis", name: "address") { config, value throws(ConfigProblem) in
            let (host, port) = try parseListen(try value.string())
            guard port > 0 else { throw ConfigProblem("needs a port, e.g. 127.0.0.1:6379") }
            (config.redisHost, config.redisPort) = (host, port)
        },
        ConfigKey(section: "redis", name: "cluster") { config, value throws(ConfigProblem) in
            config.redisCluster = try value.strings().map { text throws(ConfigProblem) in
                let (host, port) = try parseListen(text)
                guard port > 0 else { throw ConfigProblem("'\(text)' needs a port, e.g. 10.0.0.5:7000") }
                return "\(host):\(port)"
            }
            guard !config.redisCluster.isEmpty else { throw ConfigProblem("names no node") }
        },
        ConfigKey(section: "redis", name: "max_pending_votes") { config, value throws(ConfigProblem) in
            config.maxPendingVotes = try value.integer(1...1_048_576)
        },
        ConfigKey(section: "redis", name: "timeout_ms") { config, value throws(ConfigProblem) in
            config.redisTimeoutMilliseconds = try value.integer(10...60_000)
        },
        ConfigKey(section: "redis", name: "batching") { config, value throws(ConfigProblem) in
            config.batching = try value.boolean()
        },
        ConfigKey(section: "redis", name: "results_refresh_ms") { config, value throws(ConfigProblem) in
            config.resultsRefreshMilliseconds = try value.integer(0...60_000)
        },
        ConfigKey(section: "redis", name: "allow_volatile") { config, value throws(ConfigProblem) in
            config.allowVolatile = try value.boolean()
        },
        ConfigKey(section: "redis", name: "replicas_to_ack") { config, value throws(ConfigProblem) in
            config.replicasToAck = try value.integer(0...16)
        },
        ConfigKey(section: "redis", name: "shards") { config, value throws(ConfigProblem) in
            config.shards = try value.integer(1...PollShards.maxCount)
        },
    ] + Dialect.allCases.flatMap { dialect in
        [
            ConfigKey(section: "dialects.\(dialect.rawValue)", name: "enabled") { config, value throws(ConfigProblem) in
                config.dialects[dialect]!.enabled = try value.boolean()
            },
            ConfigKey(section: "dialects.\(dialect.rawValue)", name: "prefix") { config, value throws(ConfigProblem) in
                switch DialectMount.prefix(try value.string()) {
                case .success(let prefix): config.dialects[dialect]!.prefix = prefix
                case .failure(let error): throw ConfigProblem(error.description)
                }
            },
        ]
    }

    private static func limit(_ name: String, _ range: ClosedRange<Int>, _ set: @escaping @Sendable (inout HTTPLimits, Int) -> Void) -> ConfigKey {
        ConfigKey(section: "server", name: name) { config, value throws(ConfigProblem) in set(&config.limits, try value.integer(range)) }
    }

    /// `host:port`, `[v6]:port` or `:port` (all IPv4 interfaces).
    static func parseListen(_ text: String) throws(ConfigProblem) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigProblem("must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        guard PeerAddress(parsing: host) != nil else { throw ConfigProblem("'\(host)' is not an IP address") }
        return (host, port)
    }

    /// The line of `key` (or of the section header when nil) in `section`, for error messages.
    static func line(of key: String?, in section: String, text: String) -> Int? {
        var current = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                current = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
                if key == nil && current == section { return index + 1 }
            } else if let key, current == section, line.hasPrefix(key),
                line.dropFirst(key.count).trimmingCharacters(in: .whitespaces).hasPrefix("=")
            {
                return index + 1
            }
        }
        return nil
    }
}
