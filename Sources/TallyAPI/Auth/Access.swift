import TallyCore
import TallyHTTP

/// Who may do what: organizers by bearer token from config, voters by signed token or, behind a
/// proxy that authenticates them, by a header that only trusted proxy addresses may set.
public struct AccessPolicy: Sendable {
    private let organizerTokens: [[UInt8]]
    public let voterTokens: VoterTokens
    private let trustedProxies: Set<PeerAddress>

    public init(organizerTokens: [String], voterSecret: [UInt8], trustedProxies: [PeerAddress]) {
        self.organizerTokens = organizerTokens.map { Array($0.utf8) }
        voterTokens = VoterTokens(secret: voterSecret)
        self.trustedProxies = Set(trustedProxies)
    }

    /// Whether the request carries an organizer token. Compares against every configured token in
    /// constant time per token, so timing tells nothing about how close a guess was.
    public func isOrganizer(_ request: Request) -> Bool {
        guard let bearer = AccessPolicy.bearer(request) else { return false }
        var matched = false
        for token in organizerTokens where token.count == bearer.count {
            var difference: UInt8 = 0
            for index in 0..<token.count { difference |= token[index] ^ bearer[index] }
            matched = matched || difference == 0
        }
        return matched
    }

    /// The voter the request speaks for (`now` in Unix seconds). A request that carries an
    /// `Authorization` header is judged by it alone (fail closed: a bad credential is never
    /// overruled); only without one does a trusted proxy's `X-Voter-Id` count.
    public func voter(_ request: Request, now: Int64) -> VoterCheck {
        if request.header("authorization") != nil {
            guard let bearer = AccessPolicy.bearer(request) else { return .invalid }
            return voterTokens.verify(bearer, now: now)
        }
        if !trustedProxies.isEmpty, let header = request.header("x-voter-id") {
            guard trustedProxies.contains(request.peer) else { return .invalid }
            var identity = VoterIdentity()
            return identity.set(header) ? .voter(identity) : .invalid
        }
        return .missing
    }

    /// The token of an `Authorization: Bearer …` header.
    static func bearer(_ request: Request) -> UnsafeRawBufferPointer? {
        guard let value = request.header("authorization"), value.count > 7,
            ASCII.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: value[0..<7]), UnsafeRawBufferPointer(start: ("Bearer " as StaticString).utf8Start, count: 7))
        else { return nil }
        return ASCII.trimmed(UnsafeRawBufferPointer(rebasing: value[7...]))
    }
}
