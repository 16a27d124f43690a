import TallyCore

/// Every Redis key Tally uses, in one place. A poll's keys carry the hash tag `{p:ID}`, so in a
/// Redis Cluster they live on one node and one script can touch them all; a hot poll can later be
/// split into sub-shards by voter hash (`{p:ID:k}`) without changing the rest.
public enum KeySchema {
    /// Hash. The fields the vote script checks: `state` (draft, open, closed), `options` (count),
    /// `maxVotes` (0 = every option), `revote` (0/1), `closesAt` (µs since the epoch, "" for none),
    /// `closesOnEnd` (0/1).
    public static func rules(_ poll: PollID) -> String { "{p:\(poll)}:rules" }

    /// Hash. The poll's whole definition as JSON (`definition`), for recovery.
    public static func definition(_ poll: PollID) -> String { "{p:\(poll)}:def" }

    /// Hash. Voter id → ballot as 16 hex digits (bit i = option i). No field: no ballot.
    public static func ballots(_ poll: PollID) -> String { "{p:\(poll)}:ballots" }

    /// Hash. Option index (decimal) → votes; `voters` → voters with a ballot. Kept equal to the sum
    /// of `ballots` by the vote script, which changes both atomically.
    public static func counts(_ poll: PollID) -> String { "{p:\(poll)}:counts" }

    /// Set. The ids of every poll, for recovery on start.
    public static let polls = "tally:polls"

    /// String. The last poll id handed out (INCR), so ids are unique across daemons.
    public static let nextPollID = "tally:next-poll-id"
}
