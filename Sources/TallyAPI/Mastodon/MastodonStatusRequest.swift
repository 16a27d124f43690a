import Foundation
import TallyCore
import TallyHTTP

/// `POST /api/v1/statuses` with a poll, JSON (as Mastodon.py sends it with a poll) or form-encoded
/// (`poll[options][]=…&poll[expires_in]=…`), checked against Mastodon's own limits with its
/// messages (`PollOptionsValidator`, `PollExpirationValidator`, `StatusLengthValidator`; the words
/// from `config/locales/en.yml`). Booleans as Rails reads them: "0", "f", "false", "off" and "" are
/// false (Mastodon.py sends `sensitive` as "0"). Admin path.
struct MastodonStatusRequest {
    static let maxOptions = 4
    static let maxOptionCharacters = 50
    static let minExpiration = 300
    static let maxExpiration = 2_629_746  // a month
    static let maxCharacters = 500

    var text = ""
    var options: [String] = []
    var expiresIn: Int?
    var multiple = false
    var hideTotals = false
    var visibility = "public"
    var sensitive = false
    var spoilerText = ""
    var language: String?
    var hasPoll = false

    init(_ request: Request) throws(AdminError) {
        let isJSON = request.header("content-type").map { ASCII.startsIgnoringCase($0, "application/json") } ?? false
        if isJSON { try readJSON(request.body) } else { try readForm(request.body) }
        try validate()
    }

    /// The engine poll: single or multiple choice, closing when it expires, results hidden until
    /// then under `hide_totals`; the status' other fields kept as labels.
    func definition(author: String?, now: Timestamp) -> PollDefinition {
        var labels = [MastodonLabels.visibility: visibility, MastodonLabels.sensitive: sensitive ? "true" : "false"]
        if !spoilerText.isEmpty { labels[MastodonLabels.spoilerText] = spoilerText }
        if let language { labels[MastodonLabels.language] = language }
        let rules = PollRules(
            maxVotes: multiple ? 0 : 1, closesAt: now + Timestamp(expiresIn ?? 0) * 1_000_000, closesOnEnd: true, revote: false,
            visibility: hideTotals ? .afterClose : .always, hideCounts: false, anonymous: true)
        return PollDefinition(question: text, options: options, rules: rules, labels: labels, organizer: author, createdAt: now)
    }

    private mutating func validate() throws(AdminError) {
        var problems: [String] = []
        let stripped = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if stripped.isEmpty { problems.append("Text can't be blank") }
        if text.count > Self.maxCharacters { problems.append("Text character limit of \(Self.maxCharacters) exceeded") }
        guard hasPoll else {
            // Tally stores polls, not posts (README: Dialects).
            throw .invalidField("Validation failed: \((problems + ["Poll can't be blank: Tally stores polls, not posts"]).joined(separator: ", "))")
        }
        if options.count <= 1 { problems.append("Poll options must have more than one item") }
        if options.count > Self.maxOptions { problems.append("Poll options can't contain more than \(Self.maxOptions) items") }
        if options.contains(where: { $0.count > Self.maxOptionCharacters }) {
            problems.append("Poll options cannot be longer than \(Self.maxOptionCharacters) characters each")
        }
        if Set(options).count != options.count { problems.append("Poll options contain duplicate items") }
        let seconds = expiresIn ?? 0
        if seconds > Self.maxExpiration { problems.append("Poll expires at is too far into the future") }
        if seconds < Self.minExpiration { problems.append("Poll expires at is too soon") }
        guard problems.isEmpty else { throw .invalidField("Validation failed: \(problems.joined(separator: ", "))") }
    }

    private mutating func readJSON(_ body: UnsafeRawBufferPointer) throws(AdminError) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw .invalidField("Validation failed: the body must be a JSON object")
        }
        text = object["status"].flatMap(Self.text) ?? ""
        visibility = object["visibility"].flatMap(Self.text) ?? visibility
        sensitive = object["sensitive"].map(Self.boolean) ?? false
        spoilerText = object["spoiler_text"].flatMap(Self.text) ?? ""
        language = object["language"].flatMap(Self.text)
        guard let poll = object["poll"] as? [String: Any] else { return }
        hasPoll = true
        options = (poll["options"] as? [Any])?.compactMap(Self.text) ?? []
        expiresIn = poll["expires_in"].flatMap(Self.integer)
        multiple = poll["multiple"].map(Self.boolean) ?? false
        hideTotals = poll["hide_totals"].map(Self.boolean) ?? false
    }

    private mutating func readForm(_ body: UnsafeRawBufferPointer) throws(AdminError) {
        var pairs: [(String, String)] = []
        let wellFormed = FormBody.forEach(body) { name, value in
            guard let name = FormBody.text(name), let value = FormBody.text(value) else { return false }
            pairs.append((name, value))
            return true
        }
        guard wellFormed else { throw .invalidField("Validation failed: the body is not valid form encoding") }
        for (name, value) in pairs {
            switch name {
            case "status": text = value
            case "visibility": visibility = value
            case "sensitive": sensitive = Self.boolean(value)
            case "spoiler_text": spoilerText = value
            case "language": language = value
            case "poll[options][]":
                hasPoll = true
                options.append(value)
            case "poll[expires_in]":
                hasPoll = true
                expiresIn = Self.integer(value)
            case "poll[multiple]": multiple = Self.boolean(value)
            case "poll[hide_totals]": hideTotals = Self.boolean(value)
            default: continue
            }
        }
    }

    private static func text(_ value: Any) -> String? {
        if let text = value as? String { return text }
        if let number = value as? NSNumber { return number.stringValue }
        return nil
    }

    /// A number or a string of digits, as Rails' `to_i` reads a parameter.
    private static func integer(_ value: Any) -> Int? {
        if let number = value as? NSNumber { return number.intValue }
        return (value as? String).flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// ActiveModel's boolean cast.
    private static func boolean(_ value: Any) -> Bool {
        if let number = value as? NSNumber { return number.boolValue }
        guard let text = value as? String else { return false }
        return !["", "0", "f", "false", "off", "F", "FALSE", "OFF"].contains(text)
    }
}
