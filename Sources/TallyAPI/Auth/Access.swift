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
    /// The token is the bearer token, or the password of HTTP Basic credentials (whatever the user
    /// name: an organizer moderates every poll, whoever it says it is).
    public func isOrganizer(_ request: Request) -> Bool {
        guard let authorization = request.header("authorization") else { return false }
        if let bearer = AccessPolicy.bearer(authorization) { return isOrganizerToken(bearer) }
        return BasicCredentials.read(authorization) { _, password in isOrganizerToken(password) } ?? false
    }

    /// Whether `token` is an organizer token (the content-polls dialect passes it in its query).
    func isOrganizerToken(_ token: UnsafeRawBufferPointer) -> Bool {
        var matched = false
        for candidate in organizerTokens {
            matched = candidate.withUnsafeBytes { ConstantTime.equals($0, token) } || matched
        }
        return matched
    }

    /// The voter the request speaks for (`now` in Unix seconds): a voter token as the bearer token,
    /// or as the password of HTTP Basic credentials whose user name is the token's voter id (what
    /// Nextcloud clients send). A request that carries an `Authorization` header is judged by it
    /// alone (fail closed: a bad credential is never overruled); only without one does a trusted
    /// proxy's `X-Voter-Id` count.
    public func voter(_ request: Request, now: Int64) -> VoterCheck {
        if let authorization = request.header("authorization") {
            if let bearer = AccessPolicy.bearer(authorization) { return voterTokens.verify(bearer, now: now) }
            return BasicCredentials.read(authorization) { user, password -> VoterCheck in
                let check = voterTokens.verify(password, now: now)
                guard case .voter(let identity) = check else { return check }
                return identity.withBytes { ASCII.equals($0, user) } ? check : .invalid
            } ?? .invalid
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
