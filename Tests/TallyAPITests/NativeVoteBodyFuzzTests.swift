import Foundation
import TallyCore
import TallyTestSupport
import Testing

@testable import TallyAPI

/// The vote-body scanner against Foundation's JSON parser, on generated bodies and on bytes mutated
/// from them: whatever the scanner accepts, Foundation accepts with the same choices and token; what
/// Foundation accepts as a vote, the scanner accepts, except where it holds to RFC 8259 and
/// Foundation does not (trailing commas, a byte order mark), numbers with a fraction or exponent,
/// which are no option numbers, and `choices` or `token` given twice (Foundation keeps the last). Any crash or out-of-bounds read fails the test process (debug build).
struct NativeVoteBodyFuzzTests {
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func scannerAgreesWithFoundation(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        for round in 0..<3_000 {
            var body = Array(JSONText.voteBody(&random).utf8)
            if round % 2 == 1 { ByteMutation.apply(to: &body, favouring: JSONText.significant, &random) }
            try check(body, context: "seed \(seed), round \(round)")
        }
    }

    @Test func handPickedEdgesAreJudgedAsFoundationJudgesThem() throws {
        let bodies = [
            #"{"choices":[01]}"#, #"{"choices":[-0]}"#, #"{"choices":[1.0]}"#, #"{"choices":[1e2]}"#,
            #"{"choices":[99999999999999999999]}"#, #"{"choices":[-]}"#, #"{"choices":[true]}"#,
            #"{"a":"\ud800","choices":[1]}"#, #"{"a":"\udc00\ud800","choices":[1]}"#, #"{"a":"\ud83d\ude00","choices":[1]}"#,
            #"{"a":"\x","choices":[1]}"#, #"{"a":1.,"choices":[1]}"#, #"{"a":.5,"choices":[1]}"#, #"{"a":+1,"choices":[1]}"#,
            #"{"a":1e,"choices":[1]}"#, #"{"a":-01,"choices":[1]}"#, #"{"choices":[1],"choices":[2]}"#,
            #"{"ch\u006fices":[3]}"#, #"{"choices":[1],"token":null}"#, #"{"choices":[1]}x"#, "{\"choices\":[1]}\u{0}",
            "{\"a\":\"\u{7f}\",\"choices\":[1]}", #"{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"choices":[1]}"#,
        ].map { Array($0.utf8) }
        let invalidUTF8: [[UInt8]] = [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF]].map {
            Array(#"{"choices":[1],"a":""#.utf8) + $0 + Array(#""}"#.utf8)
        }
        for body in bodies + invalidUTF8 { try check(body, context: "hand-picked") }
        // The depth limit is the scanner's own (Foundation allows more): 40 levels are refused.
        let deep = Array((#"{"choices":[1],"a":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}").utf8)
        #expect(deep.withUnsafeBytes { NativeVoteBody(parsing: $0) } == nil)
    }

    private func check(_ body: [UInt8], context: String) throws {
        let scanned = body.withUnsafeBytes { NativeVoteBody(parsing: $0) }
        let parsed = try? JSONSerialization.jsonObject(with: Data(body))
        let shown = "\(context): \(String(decoding: body, as: UTF8.self).debugDescription) \(body)"
        if let scanned {
            let object = try #require(parsed as? [String: Any], "accepted what Foundation refuses: \(shown)")
            let choices = try #require(object["choices"] as? [NSNumber], "\(shown)")
            #expect(scanned.input == expectedInput(choices), "\(shown)")
            if !body.contains(UInt8(ascii: "\\")) {
                let token = (object["token"] as? String).map { text in Array(text.utf8).withUnsafeBytes { PollToken(parsing: $0) } }
                #expect(scanned.token == token, "\(shown)")
            }
        } else if let object = parsed as? [String: Any], let choices = object["choices"] as? [NSNumber],
            choices.allSatisfy(isPlainInteger), object["token"] == nil || object["token"] is String,
            !hasTrailingComma(body), !body.starts(with: [0xEF, 0xBB, 0xBF]), nestingDepth(body) < JSONScanner.maxDepth,
            !mayRepeatAKey(body)
        {
            Issue.record("refused a vote Foundation reads as valid: \(shown)")
        }
    }

    /// What the engine's input is for these numbers: out of range for anything not in 0..<64.
    private func expectedInput(_ choices: [NSNumber]) -> BallotInput {
        var input = BallotInput()
        for number in choices {
            let value = number.doubleValue
            input.add(value >= 0 && value < Double(Ballot.maxOptions) ? Int(number.int64Value) : -1)
        }
        return input
    }

    /// An integer written without fraction or exponent (Foundation makes those doubles), not a
    /// Boolean (an NSNumber too).
    private func isPlainInteger(_ number: NSNumber) -> Bool {
        !["c", "d", "f"].contains(String(cString: number.objCType))
    }

    private func hasTrailingComma(_ body: [UInt8]) -> Bool {
        let significant = body.filter { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        return zip(significant, significant.dropFirst()).contains { $0 == UInt8(ascii: ",") && ($1 == UInt8(ascii: "}") || $1 == UInt8(ascii: "]")) }
    }

    /// Whether `choices` or `token` may be a key twice: counted loosely, as any string spelling them
    /// the ways the generator does.
    private func mayRepeatAKey(_ body: [UInt8]) -> Bool {
        let text = String(decoding: body, as: UTF8.self)
        let choices = text.components(separatedBy: #""choices""#).count + text.components(separatedBy: #""ch\u006fices""#).count - 2
        return choices > 1 || text.components(separatedBy: #""token""#).count > 2
    }

    /// The deepest nesting of brackets, counted loosely (brackets inside strings too).
    private func nestingDepth(_ body: [UInt8]) -> Int {
        var depth = 0
        var deepest = 0
        for byte in body {
            if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") { depth += 1 }
            if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") { depth -= 1 }
            deepest = max(deepest, depth)
        }
        return deepest
    }
}

/// Random, valid JSON text, with what vote bodies hold and what they might.
enum JSONText {
    /// Bytes that mean something to a JSON parser.
    static let significant: [UInt8] = Array(#"{}[],:"\-+.eE0123456789u tfn"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC0, 0xED, 0xF4, 0xFF]

    static func voteBody(_ random: inout SplitMix64) -> String {
        var members: [String] = []
        if Int.random(in: 0..<10, using: &random) < 9 {
            let choices = (0..<Int.random(in: 0...4, using: &random)).map { _ in integer(&random) }
            members.append(#""choices":"# + space(&random) + "[" + choices.joined(separator: "," + space(&random)) + "]")
        }
        if Bool.random(using: &random) {
            let token = (0..<32).map { _ in String(Int.random(in: 0..<16, using: &random), radix: 16) }.joined()
            members.append(#""token":""# + token + #"""#)
        }
        for _ in 0..<Int.random(in: 0...3, using: &random) {
            // Now and then a key of the vote again, which makes the body malformed.
            let key = Int.random(in: 0..<8, using: &random) > 0 ? string(&random)
                : [#""choices""#, #""ch\u006fices""#, #""token""#].randomElement(using: &random)!
            members.append(key + space(&random) + ":" + space(&random) + value(&random, depth: 0))
        }
        members.shuffle(using: &random)
        return space(&random) + "{" + members.joined(separator: space(&random) + "," + space(&random)) + "}" + space(&random)
    }

    static func value(_ random: inout SplitMix64, depth: Int) -> String {
        switch Int.random(in: 0..<(depth < 3 ? 7 : 5), using: &random) {
        case 0: return string(&random)
        case 1: return integer(&random)
        case 2: return ["0.5", "-1.25e3", "1E+2", "2e-7", "0.0", "-0", "12.50"].randomElement(using: &random)!
        case 3: return ["true", "false", "null"].randomElement(using: &random)!
        case 4: return "[" + space(&random) + "]"
        case 5: return "[" + (0..<Int.random(in: 1...3, using: &random)).map { _ in value(&random, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            return "{" + (0..<Int.random(in: 0...2, using: &random)).map { _ in string(&random) + ":" + value(&random, depth: depth + 1) }
                .joined(separator: ",") + "}"
        }
    }

    static func integer(_ random: inout SplitMix64) -> String {
        switch Int.random(in: 0..<10, using: &random) {
        case 0: return String(Int64.random(in: Int64.min...Int64.max, using: &random))
        case 1: return "-" + String(Int.random(in: 1...70, using: &random))
        case 2: return "123456789012345678901234"
        default: return String(Int.random(in: 0...70, using: &random))
        }
    }

    static func string(_ random: inout SplitMix64) -> String {
        let pieces = ["a", "choices", "token", " ", "é", "😀", #"\""#, #"\\"#, #"\/"#, #"\n"#, #"\t"#, #"\u0041"#, #"\u00e9"#, #"\ud83d\ude00"#, "\u{7f}"]
        return "\"" + (0..<Int.random(in: 0...4, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined() + "\""
    }

    static func space(_ random: inout SplitMix64) -> String {
        ["", "", "", " ", "\n", "\t ", "\r\n"].randomElement(using: &random)!
    }
}
