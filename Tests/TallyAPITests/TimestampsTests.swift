import Foundation
import TallyAPI
import Testing

/// RFC 3339 as `closesAt` takes it: strict, and equal to Foundation's reading wherever that one is.
struct TimestampsTests {
    @Test func readsDatesOffsetsAndFractions() {
        #expect(Timestamps.parse("1970-01-01T00:00:00Z") == 0)
        #expect(Timestamps.parse("2026-11-23T09:00:00Z") == 1_795_424_400_000_000)
        #expect(Timestamps.parse("2026-11-23t09:00:00z") == 1_795_424_400_000_000, "RFC 3339 §5.6: T and Z in either case")
        #expect(Timestamps.parse("2026-11-23T10:30:00.25+01:30") == 1_795_424_400_250_000)
        #expect(Timestamps.parse("2026-11-23T08:00:00.123456789-01:00") == 1_795_424_400_123_456, "to the microsecond")
        #expect(Timestamps.parse("2000-02-29T12:00:00Z") != nil, "a leap day")
        #expect(Timestamps.parse("9999-12-31T23:59:59.999999Z") == Timestamps.range.upperBound)
    }

    @Test func refusesWhatIsNotARealMomentInRange() {
        for text in [
            "10000-01-01T00:00:00Z", "2099-02-30T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z",
            "2026-01-01T00:00:00+25:00", "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00-00:60", "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00", "2026-01-01 00:00:00Z", "2026-1-01T00:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00Zx",
            "1969-12-31T23:59:59Z", "9999-12-31T23:59:59-00:01", "", "2026-01-01", "２０２６-01-01T00:00:00Z", "+2026-01-01T00:00:00Z",
        ] {
            #expect(Timestamps.parse(text) == nil, "\(text)")
        }
    }

    /// Random moments written with random offsets and fractions: the same instant as Foundation's
    /// ISO 8601 parser reads them (to the millisecond it keeps).
    @Test func agreesWithFoundationOnValidTimes() throws {
        var generator = SystemRandomNumberGenerator()
        let foundation = ISO8601DateFormatter()
        foundation.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = try #require(TimeZone(identifier: "UTC"))
        for _ in 0..<2_000 {
            let instant = Int64.random(in: 86_400...253_402_214_400, using: &generator)
            let milliseconds = Int.random(in: 0..<1_000, using: &generator)
            let offset = Int.random(in: -18 * 60...18 * 60, using: &generator)  // minutes; Foundation stops at ±18 h
            let local = utc.dateComponents(
                [.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: Double(instant + Int64(offset) * 60)))
            let text = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d.%03d%@%02d:%02d", local.year!, local.month!, local.day!, local.hour!, local.minute!,
                local.second!, milliseconds, offset < 0 ? "-" : "+", abs(offset) / 60, abs(offset) % 60)
            let expected = try #require(foundation.date(from: text), "\(text)")
            #expect(Timestamps.parse(text) == Int64((expected.timeIntervalSince1970 * 1_000).rounded()) * 1_000, "\(text)")
            #expect(Timestamps.parse(text) == instant * 1_000_000 + Int64(milliseconds) * 1_000, "\(text)")
        }
    }

    /// Valid times with random bytes changed, cut or added: never a crash, and anything read is in
    /// range and what Foundation reads too.
    @Test func survivesRandomEdits() {
        var generator = SystemRandomNumberGenerator()
        let foundation = ISO8601DateFormatter()
        foundation.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let alphabet = Array("0123456789-:.TtZz+ x\u{0}é".utf8)
        for _ in 0..<20_000 {
            var bytes = Array("2026-11-23T09:30:15.125+01:30".utf8)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[at] = alphabet.randomElement(using: &generator)!
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet.randomElement(using: &generator)!, at: at)
                }
                if bytes.isEmpty { break }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let time = Timestamps.parse(text) else { continue }
            #expect(Timestamps.range.contains(time), "\(text)")
            if let date = foundation.date(from: text) {
                #expect(abs(time / 1_000 - Int64((date.timeIntervalSince1970 * 1_000).rounded())) <= 1, "\(text)")
            }
        }
    }
}
