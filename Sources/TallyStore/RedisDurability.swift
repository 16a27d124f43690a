/// What a `200` survives, as Redis' own persistence settings decide it (`appendonly`,
/// `appendfsync`). tallyd reads them at start and after every reconnect, logs the promise it can
/// make, exports it in `/metrics`, and takes no votes from a Redis without an append-only file
/// unless `[redis] allow_volatile` says so.
public enum RedisDurability: Int, CaseIterable, Sendable {
    /// Not read yet on this connection.
    case unknown = 0
    /// No append-only file (or the settings could not be read): a restart of Redis loses the votes
    /// since its last snapshot, if any.
    case volatile = 1
    /// AOF, written to the kernel at once, flushed when the kernel decides (`appendfsync no`).
    case aofNoFsync = 2
    /// AOF fsynced by a background thread every second (`appendfsync everysec`).
    case aofEverySecond = 3
    /// AOF fsynced before Redis replies (`appendfsync always`).
    case aofAlways = 4

    /// The command that reads the settings (Redis ≥ 7 takes several names at once).
    public static let query = ["CONFIG", "GET", "appendonly", "appendfsync"]

    /// From the reply to `query`: a flat array of name, value pairs. An error reply (CONFIG renamed
    /// or refused, as some hosted Redis services do) gives `volatile`: nothing tells otherwise.
    public init(configReply reply: RedisReply) {
        var settings: [String: String] = [:]
        var index = 0
        while index + 1 < reply.count {
            if let name = reply[index].string, let value = reply[index + 1].string { settings[name] = value }
            index += 2
        }
        self.init(appendOnly: settings["appendonly"], fsync: settings["appendfsync"])
    }

    init(appendOnly: String?, fsync: String?) {
        guard appendOnly == "yes" else {
            self = .volatile
            return
        }
        switch fsync {
        case "always": self = .aofAlways
        case "everysec": self = .aofEverySecond
        default: self = .aofNoFsync
        }
    }

    /// Whether votes may be taken without `allow_volatile`.
    public var hasAppendOnlyFile: Bool { rawValue >= RedisDurability.aofNoFsync.rawValue }

    /// The label `/metrics` exports.
    public var label: String {
        switch self {
        case .unknown: "unknown"
        case .volatile: "volatile"
        case .aofNoFsync: "no"
        case .aofEverySecond: "everysec"
        case .aofAlways: "always"
        }
    }

    /// What a `200` survives, for the log.
    public var promise: String {
        switch self {
        case .unknown: "unknown"
        case .volatile:
            "Redis has no append-only file (or its CONFIG cannot be read): acknowledged votes since its last snapshot "
                + "are lost whenever Redis restarts"
        case .aofNoFsync:
            "appendfsync no: a 200 survives a Redis crash, but up to ~30 s of acknowledged votes may be lost on a power loss"
        case .aofEverySecond:
            "appendfsync everysec: up to ~2 s of acknowledged votes may be lost on a Redis crash with a slow disk, "
                + "and on a power loss"
        case .aofAlways: "appendfsync always: a 200 survives a Redis crash and a power loss"
        }
    }
}

extension RedisDurability {
    /// Reads the settings of the Redis at `address` ("host:port") over a blocking connection (at
    /// start, before any vote).
    public static func read(address: String) throws(StoreError) -> RedisDurability {
        let (host, port) = StoreNode.split(address)
        let redis = try BlockingRedis(host: host, port: port)
        try redis.send(query)
        return try redis.receive(acceptingErrors: true) { RedisDurability(configReply: $0) }
    }
}
