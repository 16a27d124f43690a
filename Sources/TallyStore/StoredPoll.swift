import Foundation
import TallyCore

/// A poll as Redis keeps it: the rules the vote script checks (`{p:ID}:poll`), and the whole
/// definition as JSON (`{p:ID}:def`) for recovery and for other daemons. Admin path: Foundation.
public struct StoredPoll: Codable, Equatable, Sendable {
    public var question: String
    public var description: String
    public var options: [String]
    public var maxVotes: Int
    /// µs since the epoch.
    public var closesAt: Int64?
    public var closesOnEnd: Bool
    public var revote: Bool
    public var visibility: Visibility
    public var hideCounts: Bool
    public var anonymous: Bool
    /// 32 hex digits, for a private poll.
    public var token: String?
    public var labels: [String: String]
    public var organizer: String?
    public var createdAt: Int64
    public var expectedVoters: Int
    /// Absent in polls saved before shards existed: one shard.
    public var shards: Int?

    public init(_ definition: PollDefinition) {
        let rules = definition.rules
        question = definition.question
        description = definition.description
        options = definition.options
        maxVotes = rules.maxVotes
        closesAt = rules.closesAt
        closesOnEnd = rules.closesOnEnd
        revote = rules.revote
        visibility = rules.visibility
        hideCounts = rules.hideCounts
        anonymous = rules.anonymous
        token = rules.token?.description
        labels = definition.labels
        organizer = definition.organizer
        createdAt = definition.createdAt
        expectedVoters = definition.expectedVoters
        shards = max(definition.shards, 1)
    }

    public var definition: PollDefinition {
        PollDefinition(
            question: question, description: description, options: options,
            rules: PollRules(
                maxVotes: maxVotes, closesAt: closesAt, closesOnEnd: closesOnEnd, revote: revote, visibility: visibility,
                hideCounts: hideCounts, anonymous: anonymous, token: token.map(PollToken.init(parsing:))),
            labels: labels, organizer: organizer, createdAt: createdAt, expectedVoters: expectedVoters, shards: shards ?? 1)
    }

    /// The command that writes a poll (definition and lifecycle), numbers it with the next
    /// revision and tells other daemons; it replies the new revision. With `expected`, only if
    /// the poll is still at that version (else it replies `CHANGED`, the revision and the state
    /// found); with `ifUnvoted`, only while nobody has a ballot in it (else `VOTED`). Both are
    /// checked in the script that writes, so nothing slips in between.
    public static func saveCommand(
        id: PollID, definition: PollDefinition, lifecycle: Lifecycle, expected: PollVersion? = nil, ifUnvoted: Bool = false
    ) -> [String] {
        let json = String(decoding: try! JSONEncoder().encode(StoredPoll(definition)), as: UTF8.self)
        let rules = definition.rules
        return [
            "EVAL", saveScript, "3", KeySchema.poll(id), KeySchema.definition(id), KeySchema.ballots(id),
            "\(id)", lifecycle.name.description, "\(definition.options.count)", "\(rules.maxVotes)", rules.revote ? "1" : "0",
            rules.closesAt.map { "\($0)" } ?? "", rules.closesOnEnd ? "1" : "0", json, KeySchema.changes, ifUnvoted ? "1" : "0",
            expected.map { String($0.revision) } ?? "", expected?.state.name.description ?? "", String(LabelSignature(definition).bits),
        ]
    }

    /// The command that copies a poll's rules, as saved at `revision`, into one of its shards
    /// (`PollShards`), unless the shard has them from that revision or a later one already (so a
    /// copy that arrives late changes nothing, and a shard the close worker closed stays closed
    /// until an organizer's change). Replies 1 if it copied, 0 if not.
    public static func shardRulesCommand(_ shard: PollShard, revision: Int64, definition: PollDefinition, lifecycle: Lifecycle) -> [String] {
        let rules = definition.rules
        return [
            "EVAL", shardRulesScript, "1", KeySchema.key(.poll, shard), String(revision), lifecycle.name.description,
            "\(definition.options.count)", "\(rules.maxVotes)", rules.revote ? "1" : "0", rules.closesAt.map { "\($0)" } ?? "",
            rules.closesOnEnd ? "1" : "0",
        ]
    }

    /// The command that reads a poll shard's tallies, as `VerdictText.tallies` parses them:
    /// {version, voters, option 0, …}.
    public static func talliesCommand(_ shard: PollShard, options: Int) -> [String] {
        ["HMGET", KeySchema.key(.poll, shard), "version", "voters"] + (0..<options).map(String.init)
    }

    /// The command that removes a poll with its ballots and counts, and tells other daemons.
    public static func deleteCommand(id: PollID) -> [String] {
        ["EVAL", deleteScript, "3", KeySchema.poll(id), KeySchema.definition(id), KeySchema.ballots(id), "\(id)", KeySchema.changes]
    }

    /// The commands that add a poll to `tally:polls` (before its first save) and take it out (after
    /// its delete). Apart from the scripts, whose keys all share the poll's slot, so that each runs
    /// on one node of a Redis Cluster; in this order, a crash in between leaves at most an id
    /// without a poll in the list, which a start skips.
    public static func listCommand(id: PollID) -> [String] { ["SADD", KeySchema.polls, "\(id)"] }
    public static func unlistCommand(id: PollID) -> [String] { ["SREM", KeySchema.polls, "\(id)"] }

    /// The definition `{p:ID}:def` holds, as JSON.
    public static func definition(json: String) throws -> PollDefinition {
        try JSONDecoder().decode(StoredPoll.self, from: Data(json.utf8)).definition
    }

    /// The version `state` and `revision` (as HMGET reads them) name; nil without a state.
    public static func version(state: String?, revision: String?) -> PollVersion? {
        guard let state = state.flatMap(Lifecycle.init(name:)) else { return nil }
        return PollVersion(revision: revision.flatMap { Int64($0) } ?? 0, state: state)
    }

    private static let saveScript = """
        if ARGV[11] ~= '' then
          local found = redis.call('HMGET', KEYS[1], 'revision', 'state')
          local revision, state = found[1] or '0', found[2] or ''
          if revision ~= ARGV[11] or state ~= ARGV[12] then return {'CHANGED', revision, state} end
        end
        if ARGV[10] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return 'VOTED' end
        local revision = redis.call('HINCRBY', KEYS[1], 'revision', 1)
        redis.call('HSET', KEYS[1], 'state', ARGV[2], 'options', ARGV[3], 'maxVotes', ARGV[4], 'revote', ARGV[5],
          'closesAt', ARGV[6], 'closesOnEnd', ARGV[7], 'labels', ARGV[13])
        redis.call('HSET', KEYS[2], 'definition', ARGV[8])
        redis.call('PUBLISH', ARGV[9], ARGV[1])
        return revision
        """

    private static let shardRulesScript = """
        local copied = tonumber(redis.call('HGET', KEYS[1], 'revision') or '0')
        if copied >= tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[1], 'revision', ARGV[1], 'state', ARGV[2], 'options', ARGV[3], 'maxVotes', ARGV[4],
          'revote', ARGV[5], 'closesAt', ARGV[6], 'closesOnEnd', ARGV[7])
        return 1
        """

    private static let deleteScript = """
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
        redis.call('PUBLISH', ARGV[2], ARGV[1])
        return 'OK'
        """
}
