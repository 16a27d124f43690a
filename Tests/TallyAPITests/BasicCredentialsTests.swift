import Foundation
import TallyTestSupport
import Testing

@testable import TallyAPI

/// HTTP Basic credentials (Talk clients send a voter id and its token this way), decoded on the
/// stack: the same bytes as Foundation's base64, split at the first colon, nothing for anything else.
@Suite struct BasicCredentialsTests {
    private func read(_ authorization: String) -> (user: String, password: String)? {
        Array(authorization.utf8).withUnsafeBytes { value in
            BasicCredentials.read(value) { user, password in
                (String(decoding: user, as: UTF8.self), String(decoding: password, as: UTF8.self))
            }
        }
    }

    @Test func splitsAtTheFirstColonWhateverTheSchemesCase() {
        let encoded = Data("ann:v1.x:y".utf8).base64EncodedString()
        #expect(read("Basic \(encoded)")! == ("ann", "v1.x:y"))
        #expect(read("basic  \(encoded) ")! == ("ann", "v1.x:y"))
        #expect(read("Basic \(Data(":secret".utf8).base64EncodedString())")! == ("", "secret"))
    }

    @Test func refusesWhatIsNotBasicCredentials() {
        #expect(read("Bearer \(Data("ann:x".utf8).base64EncodedString())") == nil)
        #expect(read("Basic \(Data("no colon".utf8).base64EncodedString())") == nil)
        #expect(read("Basic !!!!") == nil)
        #expect(read("Basic ") == nil)
        #expect(read("Basic " + String(repeating: "QUFB", count: 300)) == nil, "longer than the stack buffer")
    }

    /// Standard base64 decodes exactly what Foundation decodes, padded or not, and refuses what it
    /// refuses, and text that is not the canonical spelling (bits past the last byte), which
    /// Foundation takes.
    @Test func base64StandardDecodesAsFoundationDoes() {
        var random = SplitMix64(seed: 21)
        var output = [UInt8](repeating: 0, count: 64)
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            var text = Array(Data(bytes).base64EncodedString().utf8)
            if Bool.random(using: &random) { text.removeAll { $0 == UInt8(ascii: "=") } }
            if Int.random(in: 0..<8, using: &random) == 0, !text.isEmpty {
                text[Int.random(in: 0..<text.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            let decoded = text.withUnsafeBytes { source in output.withUnsafeMutableBytes { Base64Standard.decode(source, into: $0) } }
            // Foundation wants padding: given what it lacks, unless the text has some of its own.
            let padding = text.contains(UInt8(ascii: "=")) ? 0 : (4 - text.count % 4) % 4
            let padded = text + Array(repeating: UInt8(ascii: "="), count: padding)
            let expected = Data(base64Encoded: Data(padded))
            let shown = String(decoding: text, as: UTF8.self)
            if let decoded {
                #expect(Array(output[0..<decoded]) == expected.map(Array.init), "\(shown)")
            } else if let expected {
                // Refused what Foundation takes: only a spelling that is not the canonical one.
                #expect(expected.base64EncodedString() != String(decoding: padded, as: UTF8.self), "\(shown)")
            }
        }
    }
}
