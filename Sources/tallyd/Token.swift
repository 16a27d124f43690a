import ArgumentParser
import Foundation
import TallyAPI
import TallyCore

/// `tallyd token --voter ID`: mints a voter token with the configured secret.
struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mint a signed voter token.")

    @Option(help: "The voter id (1 to 128 bytes).")
    var voter: String

    @Option(help: "How long the token is valid: seconds, or a number with s, m, h or d.")
    var ttl = "24h"

    @OptionGroup var config: ConfigOption

    func validate() throws {
        guard !voter.isEmpty, voter.utf8.count <= VoterIdentity.maxBytes else {
            throw ValidationError("--voter must be 1 to \(VoterIdentity.maxBytes) bytes")
        }
        guard Token.seconds(ttl) != nil else { throw ValidationError("--ttl must be like 3600, 90s, 15m, 24h or 7d") }
    }

    func run() throws {
        let loaded = try config.load()
        let expires = Int64(Date().timeIntervalSince1970) + Token.seconds(ttl)!
        print(VoterTokens(secret: loaded.voterSecret).mint(voter: voter, expiresAt: expires))
    }

    static func seconds(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        if let unit = text.last.flatMap({ units[$0] }), let count = Int64(text.dropLast()), count > 0 { return count * unit }
        return Int64(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
