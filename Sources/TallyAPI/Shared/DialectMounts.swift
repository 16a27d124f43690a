/// The API dialects Tally serves beside its own, and where each is mounted (`[dialects.NAME]` in
/// the configuration: `enabled`, `prefix`). Prefixes are needed because Mastodon and Canvas share
/// `/api/v1/polls/:id` and pnut's `/v1/polls` is the native path.
public enum Dialect: String, CaseIterable, Sendable {
    case mastodon
    case nextcloud
    case pnut
    case canvas
    case contentPolls = "content_polls"

    public var defaultPrefix: String {
        switch self {
        case .mastodon: "/mastodon"
        case .nextcloud: "/nextcloud"
        case .pnut: "/pnut/v1"
        case .canvas: "/canvas"
        case .contentPolls: "/content-polls"
        }
    }
}

/// Where one dialect is mounted.
public struct DialectMount: Sendable, Equatable {
    public var enabled = true
    /// Normalized: one leading slash, no trailing slash, no repeated slashes.
    public var prefix: String

    public init(enabled: Bool = true, prefix: String) {
        self.enabled = enabled
        self.prefix = prefix
    }

    /// Every dialect at its default prefix.
    public static let defaults: [Dialect: DialectMount] = Dictionary(uniqueKeysWithValues: Dialect.allCases.map { ($0, DialectMount(prefix: $0.defaultPrefix)) })

    /// A prefix as configured, normalized; or why it cannot be one.
    public static func prefix(_ text: String) -> Result<String, MountError> {
        let segments = text.split(separator: "/")
        guard !segments.isEmpty else { return .failure(MountError("must name a path, e.g. /mastodon (the root is the native API's)")) }
        guard segments.allSatisfy({ $0.allSatisfy { $0.isLetter || $0.isNumber || "-._~".contains($0) } }) else {
            return .failure(MountError("may hold only letters, digits, '-', '.', '_' and '~' between its slashes"))
        }
        let normalized = "/" + segments.joined(separator: "/")
        // canvasapi refuses a base URL containing api/v1; Talk's clients add /index.php themselves.
        guard !normalized.contains("api/v1") else { return .failure(MountError("may not contain 'api/v1' (canvasapi refuses such base URLs)")) }
        guard !normalized.hasSuffix("/index.php") else { return .failure(MountError("may not end in /index.php (clients add it)")) }
        return .success(normalized)
    }

    /// The first pair of enabled mounts of which one lies under the other (or under the native
    /// API's `/v1`), as a message; nil if none.
    public static func overlap(in mounts: [Dialect: DialectMount]) -> String? {
        let enabled = Dialect.allCases.compactMap { dialect in mounts[dialect].flatMap { $0.enabled ? (dialect.rawValue, $0.prefix) : nil } }
        let taken = [("the native API", "/v1"), ("the operations endpoints", "/healthz"), ("the operations endpoints", "/readyz"),
            ("the operations endpoints", "/metrics")] + enabled
        func segments(_ prefix: String) -> [Substring] { prefix.split(separator: "/") }
        for (index, (name, prefix)) in enabled.enumerated() {
            for (otherIndex, (other, otherPrefix)) in taken.enumerated() where otherIndex != index + 4 {
                let (a, b) = (segments(prefix), segments(otherPrefix))
                if a.starts(with: b) || b.starts(with: a) {
                    return "[dialects.\(name)] prefix \(prefix) overlaps \(other == name ? "itself" : other) at \(otherPrefix)"
                }
            }
        }
        return nil
    }
}

public struct MountError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
