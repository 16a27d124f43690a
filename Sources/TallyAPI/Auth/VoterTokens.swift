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
    /// SHA-256 keyed once with the secret (RFC 2104: the key XOR ipad, and XOR opad): a token
    /// copies both instead of running the key schedule (two SHA-256 blocks) per vote. HMAC is
    /// composed here over swift-crypto's `SHA256` (tests hold it equal to swift-crypto's `HMAC`),
    /// because that `HMAC` takes input only as a generic `DataProtocol`, which cost more than the
    /// hashing itself on the vote path (callgrind, per token: 15.1 k instructions to verify with
    /// it, 10.9 k now, of which the SHA-256 blocks are 4.5 k).
    private let innerKeyed: SHA256
    private let outerKeyed: SHA256

    public init(secret: [UInt8]) {
        precondition(secret.count >= 16, "a voter token secret needs at least 16 bytes")
        var key = secret.count > SHA256.blockByteCount ? Array(SHA256.hash(data: secret)) : secret
        key += Array(repeating: 0, count: SHA256.blockByteCount - key.count)
        var inner = SHA256(), outer = SHA256()
        inner.update(data: key.map { $0 ^ 0x36 })
        outer.update(data: key.map { $0 ^ 0x5c })
        innerKeyed = inner
        outerKeyed = outer
    }

    /// HMAC-SHA256 of `message` with the secret, handed to `body`.
    func mac<Result>(_ message: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var inner = innerKeyed, outer = outerKeyed
        inner.update(bufferPointer: message)
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize().withUnsafeBytes(body)
    }

    public func mint(voter: String, expiresAt: Int64) -> String {
        precondition(!voter.isEmpty && voter.utf8.count <= VoterIdentity.maxBytes)
        let signed = "v1." + Base64URL.encode(Array(voter.utf8)) + "." + String(expiresAt)
        return signed + "." + Array(signed.utf8).withUnsafeBytes { mac($0) { Base64URL.encode($0) } }
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
            return mac(signed) { ConstantTime.equals($0, UnsafeRawBufferPointer(expected)) }
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

extension VoterIdentity {
    /// From a token's base64url id; nil if it does not decode to 1 to `maxBytes` bytes.
    init?(encoded: UnsafeRawBufferPointer) {
        self.init(filling: { Base64URL.decode(encoded, into: $0) })
    }
}
