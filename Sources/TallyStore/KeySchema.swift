import TallyCore

/// Every Redis key Tally uses, in one place. A poll's keys carry the hash tag `{p:ID}`, so in a
/// Redis Cluster they live on one node and one script can touch them all.
///
/// A poll of several shards (`PollShards`, a hot poll spread over a cluster's masters) keeps its
/// `{p:ID}:poll` (the rules organizers change, and what the close worker freezes) and `{p:ID}:def`,
/// and each shard has its own `{p:ID:TAG}:poll` (a copy of the rules, with the `revision` it was
/// copied at, and the tallies of its voters) and `{p:ID:TAG}:ballots`. A poll of one shard keeps
/// its tallies and ballots in `{p:ID}:poll` and `{p:ID}:ballots`, as before shards existed.
///
/// On a cluster, the global keys each live on the one node their slot maps to (`ClusterSlot`), and
/// no script touches them together with a poll's keys:
/// - `tally:polls`: a set written once per poll created or deleted, by its own command, and read
///   whole by a starting daemon: organizer-rate, ~10 bytes per poll on one node.
/// - `tally:changes`: a channel, not a key: the per-poll scripts `PUBLISH` to it, and a cluster
///   forwards every message to every node, so a daemon subscribed on any node hears them all.
/// - `tally:next-poll-id`: one `INCR` per poll created.
/// - `tally:closed`: with one Redis the close script appends here as it closes a poll; on a
///   cluster (two slots) the close script marks the poll `eventPending` and `ClosedEvents` appends
///   the event in a second script, with `{tally:closed}:sent` (same slot), once per poll: a burst of
///   N closing polls is N appends on this one node, a few µs each.
/// - `canvas:*`: Canvas' templates, one command per key, at organizer rate.
public enum KeySchema {
    /// The keys of one poll; each is `{p:ID}` followed by its suffix.
    public enum PollKey: CaseIterable, Sendable {
        case poll, definition, ballots

        var suffix: StaticString {
            switch self {
            case .poll: ":poll"
            case .definition: ":def"
            case .ballots: ":ballots"
            }
        }
    }

    public static func key(_ kind: PollKey, _ poll: PollID) -> String { "{p:\(poll)}\(kind.suffix)" }

    /// A poll shard's key: the poll's own for a poll of one shard.
    public static func key(_ kind: PollKey, _ shard: PollShard) -> String {
        shard.tag < 0 ? key(kind, shard.poll) : "{p:\(shard.poll):\(shard.tag)}\(kind.suffix)"
    }

    /// Hash. The poll as the scripts read and change it, in one place so that each touches one key:
    /// - rules the vote script checks: `state` (draft, open, closed), `options` (count), `maxVotes`
    ///   (0 = every option), `revote` (0/1), `closesAt` (µs since the epoch, "" for none),
    ///   `closesOnEnd` (0/1);
    /// - `labels`: the definition's `LabelSignature` (decimal), so a start can leave closed polls
    ///   in Redis and still list them;
    /// - `revision`: grows with every organizer write (the save script); with `state`, the version
    ///   an organizer's change must be made from (`PollVersion`);
    /// - tallies, kept equal to the sum of `ballots` by the vote script, which changes both
    ///   atomically: option index (decimal) → votes, `voters` (voters with a ballot), `version`
    ///   (grows with every vote batch that changed a ballot);
    /// - once the close worker finalized the poll at its end date, the results it froze then:
    ///   `closedAt` (Redis' time, µs), `finalVoters`, `finalCounts` (a JSON array, one count per
    ///   option); rewritten if the poll is reopened and ends again; on a cluster, `eventPending` (1)
    ///   until its `closed` event is appended (`ClosedEvents`).
    ///
    /// A poll of several shards: its own hash has the rules, `labels`, `revision` and, once
    /// closed, the shards' tallies summed (`CloseWorker.finalizeSharded`) and the frozen results;
    /// each shard's hash has the rules the vote script checks, the `revision` they were copied at
    /// (`StoredPoll.shardRulesCommand`), and its voters' tallies.
    public static func poll(_ poll: PollID) -> String { key(.poll, poll) }

    /// Hash. The poll's whole definition as JSON (`definition`), for recovery.
    public static func definition(_ poll: PollID) -> String { key(.definition, poll) }

    /// Hash. Voter id → ballot as 16 hex digits (bit i = option i). No field: no ballot.
    public static func ballots(_ poll: PollID) -> String { key(.ballots, poll) }
    public static func ballots(_ shard: PollShard) -> String { key(.ballots, shard) }

    /// Set. The ids of every poll, for recovery on start.
    public static let polls = "tally:polls"

    /// Pub/sub channel. A poll's id, published whenever it is created, changed or deleted, so every
    /// daemon reloads it.
    public static let changes = "tally:changes"

    /// Stream. One `closed` event per poll finalized at its end date, for downstream consumers, with
    /// `poll` (the id), `closesAt`, `closedAt`, `voters` and `counts` (as in `{p:ID}:poll`).
    /// Trimmed to about `closedEventsKept` entries.
    public static let closedEvents = "tally:closed"
    public static let closedEventsKept = 1_000_000

    /// String. The last poll id handed out (INCR), so ids are unique across daemons.
    public static let nextPollID = "tally:next-poll-id"

    /// Canvas' polls, which are question templates (their sessions are Tally polls): the set of
    /// their ids; per template a hash (`question`, `description`, `created_at` in µs) and a hash of
    /// its choices (choice id → `position`, tab, `is_correct` 0/1, tab, text). Ids from
    /// `canvasNextID` (INCR), for templates and choices alike.
    public static let canvasPolls = "canvas:polls"
    public static func canvasPoll(_ id: Int64) -> String { "canvas:poll:\(id)" }
    public static func canvasChoices(_ id: Int64) -> String { "canvas:poll:\(id):choices" }
    public static let canvasNextID = "canvas:next-id"
}
