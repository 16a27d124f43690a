@preconcurrency import Crypto  // SymmetricKey is immutable, not yet marked Sendable
import TallyCore
import TallyHTTP

/// Stateless voter credentials: any event backend that knows the secret can mint them, and no
/// daemon needs a lookup to check them.
///
///     token   = "v1." + base64url(voter id) + "." + expiry + "." + base64url(mac)
///     mac     = HMAC-SHA256(secret, "v1." + base64url(voter id) + "." + expiry)
///     expiry  = Unix time in seconds, decimal
///
/// base64url is RFC 4648 §5 without padding; a voter id is 1 to 128 bytes of UTF-8.
public struct VoterTokens: Sendable {
    public static let maxVoterIDBytes = 128
    /// HMAC keyed once: a copy per token skips the key schedule (two SHA-256 blocks) per vote.
    private let keyed: HMAC<SHA256>

    public init(secret: [UInt8]) {
        precondition(secret.count >= 16, "a voter token secret needs at least 16 bytes")
        keyed = HMAC<SHA256>(key: SymmetricKey(data: secret))
    }

    public func mint(voter: String, expiresAt: Int64) -> String {
        precondition(!voter.isEmpty && voter.utf8.count <= VoterTokens.maxVoterIDBytes)
        let signed = "v1." + Base64URL.encode(Array(voter.utf8)) + "." + String(expiresAt)
        var mac = keyed
        mac.update(data: Array(signed.utf8))
        return signed + "." + Base64URL.encode(Array(mac.finalize()))
    }

    /// Checks a token's form, signature and expiry (`now` in Unix seconds).
    public func verify(_ token: UnsafeRawBufferPointer, now: Int64) -> VoterCheck {
        guard token.count > 3, token[0] == UInt8(ascii: "v"), token[1] == UInt8(ascii: "1"), token[2] == UInt8(ascii: "."),
            let lastDot = token.lastIndex(of: UInt8(ascii: ".")), lastDot > 3
        else { return .invalid }
        let signed = UnsafeRawBufferPointer(rebasing: token[..<lastDot])
        let signature = UnsafeRawBufferPointer(rebasing: token[(lastDot + 1)...])
        let body = UnsafeRawBufferPointer(rebasing: token[3..<lastDot])
        guard let middleDot = body.firstIndex(of: UInt8(ascii: ".")) else { return .invalid }
        let encodedID = UnsafeRawBufferPointer(rebasing: body[..<middleDot])
        guard let expiry = ASCII.parseUInt64(UnsafeRawBufferPointer(rebasing: body[(middleDot + 1)...])) else { return .invalid }

        let macIsValid = withUnsafeTemporaryAllocation(byteCount: 32, alignment: 1) { expected -> Bool in
            guard Base64URL.decode(signature, into: expected) == 32 else { return false }
            var mac = keyed
            mac.update(data: signed)
            // Ours, not Crypto's generic `==`, which allocates.
            return mac.finalize().withUnsafeBytes { ConstantTime.equals($0, UnsafeRawBufferPointer(expected)) }
        }
        guard macIsValid else { return .invalid }
        guard UInt64(max(now, 0)) < expiry else { return .expired }
        guard let identity = VoterIdentity(encoded: encodedID) else { return .invalid }
        return .voter(identity)
    }
}

/// The result of checking a request's voter credential.
public enum VoterCheck {
    case voter(VoterIdentity)
    case missing
    case invalid
    case expired
}

/// A voter id held inline (no allocation), with its engine key.
public struct VoterIdentity {
    private var storage = InlineArray<128, UInt8>(repeating: 0)
    public let count: Int
    public let key: VoterKey

    /// From raw id bytes (the trusted-proxy header); nil if empty or too long.
    public init?(_ id: UnsafeRawBufferPointer) {
        guard !id.isEmpty && id.count <= VoterTokens.maxVoterIDBytes else { return nil }
        for index in 0..<id.count { storage[index] = id[index] }
        count = id.count
        key = VoterKey(bytes: id)
    }

    /// From a token's base64url id; nil if it does not decode to 1 to 128 bytes.
    init?(encoded: UnsafeRawBufferPointer) {
        var span = storage.mutableSpan
        guard let decoded = span.withUnsafeMutableBytes({ Base64URL.decode(encoded, into: $0) }), decoded > 0 else {
            return nil
        }
        count = decoded
        key = storage.span.withUnsafeBytes { VoterKey(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<decoded])) }
    }

    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        storage.span.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    public var id: String { withBytes { String(decoding: $0, as: UTF8.self) } }
}
