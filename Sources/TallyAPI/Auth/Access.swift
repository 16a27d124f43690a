import TallyCore
import TallyHTTP

/// Who may do what: organizers by bearer token from config, voters by signed token or, behind a
/// proxy that authenticates them, by a header that only trusted proxy addresses may set.
public struct AccessPolicy: Sendable {
    private let organizerTokens: [[UInt8]]
    public let voterTokens: VoterTokens
    private let trustedProxies: Set<PeerAddress>
    /// Voters may create polls in the dialects whose upstream lets any user do so (Mastodon, pnut,
    /// Talk); organizers always may.
    public let votersCreatePolls: Bool

    public init(organizerTokens: [String], voterSecret: [UInt8], trustedProxies: [PeerAddress], votersCreatePolls: Bool = false) {
        self.organizerTokens = organizerTokens.map { Array($0.utf8) }
        voterTokens = VoterTokens(secret: voterSecret)
        self.trustedProxies = Set(trustedProxies)
        self.votersCreatePolls = votersCreatePolls
    }

    /// Whether the request carries an organizer token. Compares against every configured token in
    /// constant time per token, so timing tells nothing about how close a guess was.
    public func isOrganizer(_ request: Request) -> Bool {
        guard let bearer = AccessPolicy.bearer(request) else { return false }
        var matched = false
        for token in organizerTokens {
            matched = token.withUnsafeBytes { ConstantTime.equals($0, bearer) } || matched
        }
        return matched
    }

    /// The voter the request speaks for (`now` in Unix seconds). A request that carries an
    /// `Authorization` header is judged by it alone (fail closed: a bad credential is never
    /// overruled); only without one does a trusted proxy's `X-Voter-Id` count.
    public func voter(_ request: Request, now: Int64) -> VoterCheck {
        if let authorization = request.header("authorization") {
            guard let bearer = AccessPolicy.bearer(authorization) else { return .invalid }
            return voterTokens.verify(bearer, now: now)
        }
        if !trustedProxies.isEmpty, let header = request.header("x-voter-id") {
            guard trustedProxies.contains(request.peer), let identity = VoterIdentity(header) else { return .invalid }
            return .voter(identity)
        }
        return .missing
    }

    /// The token of the request's `Authorization: Bearer …` header.
    static func bearer(_ request: Request) -> UnsafeRawBufferPointer? {
        request.header("authorization").flatMap(bearer)
    }

    /// The token of an `Authorization` value of the form `Bearer …`.
    private static func bearer(_ authorization: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let scheme: StaticString = "Bearer "
        guard authorization.count > 7,
            ASCII.equalsIgnoringCase(
                UnsafeRawBufferPointer(rebasing: authorization[0..<7]), UnsafeRawBufferPointer(start: scheme.utf8Start, count: 7))
        else { return nil }
        return ASCII.trimmed(UnsafeRawBufferPointer(rebasing: authorization[7...]))
    }
}
