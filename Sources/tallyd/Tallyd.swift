import ArgumentParser
import TallyAPI

@main
struct Tallyd: ParsableCommand {
    static let version = TallyVersion.current

    static let configuration = CommandConfiguration(
        commandName: "tallyd",
        abstract: "Takes votes for live polls at event scale.",
        version: version,
        subcommands: [Run.self, Token.self, CheckConfig.self, Version.self],
        defaultSubcommand: Run.self)
}

struct ConfigOption: ParsableArguments {
    @Option(name: [.customShort("c"), .customLong("config")], help: "The TOML configuration file (see config.example.toml).")
    var path: String?

    func load() throws -> TallyConfig {
        do {
            return try TallyConfig.load(path: path)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("tallyd \(Tallyd.version)") }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Check the configuration and print what it sets.")
    @OptionGroup var config: ConfigOption

    func run() throws {
        let loaded = try config.load()
        for key in loaded.placeholderKeys {
            log("WARNING: \(key) still holds the placeholder of config.example.toml: anyone who has read it can "
                + "\(key.hasSuffix("voter_secret") ? "mint voter tokens" : "act as an organizer"). Set your own "
                + "(e.g. openssl rand -hex 32). tallyd refuses it on an address other than loopback.")
        }
        print("configuration OK")
        print("  listen      \(loaded.listenHost):\(loaded.listenPort), \(loaded.loops) loop(s)")
        print("  organizers  \(loaded.organizerTokens.count) token(s)")
        let redis = loaded.redisCluster.isEmpty
            ? loaded.redisHost.map { "\($0):\(loaded.redisPort)" } ?? "none" : "cluster, seeds \(loaded.redisCluster.joined(separator: ", "))"
        print("  redis       \(redis)")
        if let shards = loaded.shards { print("  shards      \(shards) per new poll") }
        print("  proxies     \(loaded.trustedProxies.isEmpty ? "none (X-Voter-Id off)" : loaded.trustedProxies.map(\.description).joined(separator: ", "))")
        let mounts = Dialect.allCases.compactMap { dialect in
            loaded.dialects[dialect].flatMap { $0.enabled ? "\(dialect.rawValue) at \($0.prefix)" : nil }
        }
        print("  dialects    native at /v1\(mounts.map { ", " + $0 }.joined())")
    }
}
