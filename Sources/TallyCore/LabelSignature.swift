/// What a poll can be listed by (its labels, each label's name, its organizer) folded into 63
/// bits, so a daemon can remember the polls it let go of in eight bytes each and still tell which
/// of them a listing may need (see `DroppedPolls`).
///
/// Each fact sets two of the 63 low bits (`StableHash` of its text, the same in every process: it
/// is also stored in Redis); a poll may match a query if its bits include the query's. A false match
/// is possible (the candidate is then loaded and checked), a missed one is not.
public struct LabelSignature: Equatable, Sendable {
    public let bits: UInt64

    public init(bits: UInt64) { self.bits = bits & LabelSignature.mask }

    /// The signature of a poll, or of a query for polls with all of these.
    public init(labels: [String: String] = [:], labelNames: [String] = [], organizer: String? = nil) {
        var bits: UInt64 = 0
        for (name, value) in labels { bits |= LabelSignature.bits("label=\(name)=\(value)") | LabelSignature.bits("label \(name)") }
        for name in labelNames { bits |= LabelSignature.bits("label \(name)") }
        if let organizer { bits |= LabelSignature.bits("organizer=\(organizer)") }
        self.bits = bits
    }

    public init(_ definition: PollDefinition) { self.init(labels: definition.labels, organizer: definition.organizer) }

    /// Whether a poll with this signature may have everything `query` asks for.
    public func mayContain(_ query: LabelSignature) -> Bool { bits & query.bits == query.bits }

    static let mask: UInt64 = (1 << 63) - 1

    private static func bits(_ fact: String) -> UInt64 {
        let hash = StableHash.fnv1a(fact.utf8)
        return 1 << (hash % 63) | 1 << ((hash >> 32) % 63)
    }
}
