import Crypto
import Foundation
import TallyTestSupport
import Testing

@testable import TallyAPI

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

    /// One MAC, one spelling: of the 64 letters that could end a token, only its own verifies (the
    /// last letter of 32 bytes in base64url carries 2 unused bits, which must be zero).
    @Test func onlyTheMintedSpellingOfAMacVerifies() {
        let tokens = VoterTokens(secret: Array("a-secret-of-enough-length".utf8))
        for voter in ["ann", "bo", "carla-the-voter", "é"] {
            var token = Array(tokens.mint(voter: voter, expiresAt: 2_000).utf8)
            var verified: [UInt8] = []
            for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8 {
                token[token.count - 1] = letter
                if case .voter = token.withUnsafeBytes({ tokens.verify($0, now: 1_000) }) { verified.append(letter) }
            }
            #expect(verified.count == 1, "\(voter): \(verified.count) spellings verify")
        }
    }

    /// Random edits of minted tokens (a letter, a dot, a digit or any byte changed, inserted or
    /// removed; cut short): never a crash, and never a voter unless the text is the minted token.
    @Test func editedTokensAreRefused() {
        let tokens = VoterTokens(secret: Array("a-secret-of-enough-length".utf8))
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+/=".utf8)
        var random = SplitMix64(seed: 7)
        for round in 0..<5_000 {
            let voter = String((0..<Int.random(in: 1...20, using: &random)).map { _ in "ab0-é😀".randomElement(using: &random)! })
            let token = Array(tokens.mint(voter: voter, expiresAt: 2_000).utf8)
            var edited = token
            ByteMutation.apply(1...3, to: &edited, favouring: letters, &random)
            if edited != token, case .voter = edited.withUnsafeBytes({ tokens.verify($0, now: 1_000) }) {
                Issue.record("round \(round): \(String(decoding: edited, as: UTF8.self)) verifies (minted: \(String(decoding: token, as: UTF8.self)))")
            }
        }
    }

    /// base64url decodes only canonical text: whatever decodes, encodes back to the same letters.
    @Test func base64URLDecodesOnlyCanonicalText() {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var random = SplitMix64(seed: 11)
        var output = [UInt8](repeating: 0, count: 64)
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 0...12, using: &random)).map { _ in
                Int.random(in: 0..<50, using: &random) == 0 ? UInt8.random(in: 0...255, using: &random) : letters.randomElement(using: &random)!
            }
            let decoded = text.withUnsafeBytes { source in output.withUnsafeMutableBytes { Base64URL.decode(source, into: $0) } }
            if let decoded {
                #expect(Base64URL.encode(output[0..<decoded]) == String(decoding: text, as: UTF8.self))
            }
        }
    }
}
