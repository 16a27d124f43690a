import TallyCore

/// The vote script's verdicts as text: the replaced ballot (16 hex digits) for an accepted vote,
/// `unchanged`, `late`, or the name of a `VoteRejection`; stored ballots (16 hex digits); and tallies.
/// Parsed without allocating.
public enum VerdictText {
    /// A poll's tallies as the vote script returns them and the follower reads them:
    /// {version, voters, option 0, option 1, …}. Calls `record` (version, voters, count of option)
    /// (version 0: no vote was ever stored there).
    public static func tallies(_ reply: RedisReply, _ record: (Int64, Int64, (Int) -> Int64) -> Void) {
        guard reply.count >= 2 else { return }
        record(reply[0].decimal ?? 0, reply[1].decimal ?? 0) { option in 2 + option < reply.count ? reply[2 + option].decimal ?? 0 : 0 }
    }

    /// A ballot as `{p:ID}:ballots` stores it; a nil reply (no field) is no ballot.
    static func ballot(_ reply: RedisReply) -> Ballot? {
        if reply.isNil { return .empty }
        guard let bytes = reply.bytes, !reply.isError, bytes.count == 16, let mask = HexDigits.value(of: bytes, lowercaseOnly: true) else { return nil }
        return Ballot(mask: mask)
    }

    static func parse(_ reply: RedisReply) -> StoredVerdict {
        guard let bytes = reply.bytes, !reply.isError else { return .unknown }
        if bytes.count == 16, let previous = HexDigits.value(of: bytes, lowercaseOnly: true) { return .accepted(previous: Ballot(mask: previous)) }
        if reply.hasPrefix("unchanged") { return .unchanged }
        if reply.hasPrefix("late") { return .notStored }
        for reason in VoteRejection.allCases where reason.rawValue.utf8.elementsEqual(bytes) { return .rejected(reason) }
        return .unknown
    }

}
