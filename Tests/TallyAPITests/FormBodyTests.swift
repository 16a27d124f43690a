import Foundation
import TallyAPI
import Testing

/// Form bodies (Mastodon's `choices[]=0&choices[]=2`), read without allocating.
struct FormBodyTests {
    static func pairs(_ text: String) -> [(String, String)] {
        var pairs: [(String, String)] = []
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { raw in
            FormBody.forEach(UnsafeRawBufferPointer(raw)) { name, value in
                pairs.append((FormBody.text(name) ?? "<bad>", FormBody.text(value) ?? "<bad>"))
                return true
            }
        }
        return pairs
    }

    @Test func readsPairsNamesAndNumbers() {
        let read = FormBodyTests.pairs("choices%5B%5D=0&choices[]=2&&empty=&flag&a+b=c%2Bd")
        #expect(read.map(\.0) == ["choices[]", "choices[]", "empty", "flag", "a b"])
        #expect(read.map(\.1) == ["0", "2", "", "", "c+d"])
        Array("choices%5b%5D".utf8).withUnsafeBytes { #expect(FormBody.nameIs($0, "choices[]")) }
        Array("choices%5B".utf8).withUnsafeBytes { #expect(!FormBody.nameIs($0, "choices[]")) }
        Array("choices%5G%5D".utf8).withUnsafeBytes { #expect(!FormBody.nameIs($0, "choices[]")) }
        for (text, number) in [("12", Int64?(12)), ("-3", -3), ("%31", 1), ("", nil), ("1a", nil), ("--1", nil), ("1234567890123456789", nil)] {
            Array(text.utf8).withUnsafeBytes { #expect(FormBody.integer($0) == number, "\(text)") }
        }
    }

    /// Random text, percent-encoded by Foundation, decodes back to itself; random bytes never crash
    /// the reader.
    @Test func decodesWhatFoundationEncodesAndSurvivesNoise() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab=&+%[] é€\u{0}")
        for _ in 0..<5_000 {
            let name = String((0..<Int.random(in: 1...8, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let value = String((0..<Int.random(in: 0...8, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let allowed = CharacterSet.alphanumerics
            let encoded = name.addingPercentEncoding(withAllowedCharacters: allowed)! + "=" + value.addingPercentEncoding(withAllowedCharacters: allowed)!
            let read = FormBodyTests.pairs(encoded)
            #expect(read.count == 1 && read.first?.0 == name && read.first?.1 == value, "\(encoded)")
            let noise = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            noise.withUnsafeBytes { bytes in
                _ = FormBody.forEach(bytes) { name, value in
                    _ = FormBody.integer(value)
                    _ = FormBody.text(name)
                    return FormBody.nameIs(name, "choices[]") || true
                }
            }
        }
    }
}
