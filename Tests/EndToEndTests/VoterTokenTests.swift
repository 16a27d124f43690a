import Crypto
import Foundation
import TallyAPI
import Testing

/// Voter tokens' MAC is HMAC-SHA256 composed over swift-crypto's SHA-256 (for speed on the vote
/// path): it must equal swift-crypto's own `HMAC` for every key length, short, block-sized and
/// longer than a block (hashed first).
@Suite struct VoterTokenTests {
    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test(arguments: [16, 63, 64, 65, 200])
    func tokensCarryCryptosHMAC(secretLength: Int) {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let secret = (0..<secretLength).map { _ in UInt8.random(in: 0...255, using: &random) }
            let voterID = String((0..<Int.random(in: 1...64, using: &random)).map { _ in "abcdefghij0123456789-é".randomElement(using: &random)! })
            let expiry = Int64.random(in: 0...4_000_000_000, using: &random)
            let signed = "v1." + Self.base64URL(voterID.utf8) + "." + String(expiry)
            let expected = HMAC<SHA256>.authenticationCode(for: Array(signed.utf8), using: SymmetricKey(data: secret))
            #expect(VoterTokens(secret: secret).mint(voter: voterID, expiresAt: expiry) == signed + "." + Self.base64URL(expected))
        }
    }

    @Test func verifyAcceptsItsOwnTokensAndRefusesAlteredOrExpiredOnes() {
        let tokens = VoterTokens(secret: Array("a-secret-of-enough-length".utf8))
        let token = tokens.mint(voter: "ann", expiresAt: 2_000)
        func check(_ text: String, now: Int64 = 1_000) -> VoterCheck { Array(text.utf8).withUnsafeBytes { tokens.verify($0, now: now) } }
        guard case .voter(let identity) = check(token) else { Issue.record("own token refused"); return }
        #expect(identity.id == "ann")
        var altered = Array(token.utf8)
        altered[altered.count - 2] = altered[altered.count - 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        guard case .invalid = check(String(decoding: altered, as: UTF8.self)) else { Issue.record("altered MAC accepted"); return }
        guard case .expired = check(token, now: 2_000) else { Issue.record("expired token accepted"); return }
    }
}
