@preconcurrency import Crypto  // SymmetricKey is immutable, not yet marked Sendable
import TallyCore

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
        guard let expiry = parseSeconds(UnsafeRawBufferPointer(rebasing: body[(middleDot + 1)...])) else { return .invalid }

        let macIsValid = withUnsafeTemporaryAllocation(byteCount: 32, alignment: 1) { expected -> Bool in
            guard Base64URL.decode(signature, into: expected) == 32 else { return false }
            var mac = keyed
            mac.update(data: signed)
            // Constant-time comparison, without the allocation of Crypto's generic `==`.
            return mac.finalize().withUnsafeBytes { actual in
                var difference: UInt8 = 0
                for index in 0..<32 { difference |= actual[index] ^ expected[index] }
                return difference == 0
            }
        }
        guard macIsValid else { return .invalid }
        guard now < expiry else { return .expired }
        var identity = VoterIdentity()
        guard identity.decode(encodedID) else { return .invalid }
        return .voter(identity)
    }

    private func parseSeconds(_ digits: UnsafeRawBufferPointer) -> Int64? {
        guard digits.count <= 18, !digits.isEmpty else { return nil }
        var value: Int64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(digit - UInt8(ascii: "0"))
        }
        return value
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
    public private(set) var count = 0
    public private(set) var key = VoterKey(id: "")

    public init() {}

    /// From raw id bytes (the trusted-proxy header); false if empty or too long.
    public mutating func set(_ id: UnsafeRawBufferPointer) -> Bool {
        guard !id.isEmpty && id.count <= VoterTokens.maxVoterIDBytes else { return false }
        for index in 0..<id.count { storage[index] = id[index] }
        count = id.count
        key = withBytes { VoterKey(bytes: $0) }
        return true
    }

    mutating func decode(_ encoded: UnsafeRawBufferPointer) -> Bool {
        var span = storage.mutableSpan
        let decoded = span.withUnsafeMutableBytes { Base64URL.decode(encoded, into: $0) }
        guard let decoded, decoded > 0 else { return false }
        count = decoded
        key = withBytes { VoterKey(bytes: $0) }
        return true
    }

    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        storage.span.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    public var id: String { withBytes { String(decoding: $0, as: UTF8.self) } }
}
