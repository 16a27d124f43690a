import TallyCore

/// A poll as Redis has it, read back by a loop: one this daemon let go of after it closed
/// (`PollRegistry.drop`), or one created through another daemon a moment ago. No ballots: Redis
/// judges votes, and its tallies give the results.
public struct LoadedPoll {
    public let id: PollID
    public let definition: PollDefinition
    public let version: PollVersion
    /// Redis' tallies of each of its shards (`PollShards`): their version (0: nobody voted yet),
    /// voters, and votes per option.
    public var tallies: [(version: Int64, voters: Int64, counts: [Int64])]
}

extension LoopStore {
    /// Reads the polls `ids` (their definition and rules, then a sharded poll's shards' tallies;
    /// pipelined, two round trips at most); `completion` gets them in order, nil for one Redis does
    /// not have, or nil instead of the list if Redis could not be asked or a poll could not be
    /// read. Admin path: Foundation decodes.
    public func loadPolls(_ ids: [PollID], _ completion: @escaping ([LoadedPoll?]?) -> Void) {
        guard !ids.isEmpty else { return completion([]) }
        // Each reply as fields (the definition as "definition"); nil if Redis failed.
        let read = { (reply: RedisReply?) -> [String: String]? in
            guard let reply, !reply.isError else { return nil }
            if !reply.isArray { return reply.string.map { ["definition": $0] } ?? [:] }
            var fields: [String: String] = [:]
            for field in stride(from: 0, to: reply.count - 1, by: 2) {
                if let name = reply[field].string { fields[name] = reply[field + 1].string }
            }
            return fields
        }
        callEach(ids.flatMap { [["HGET", KeySchema.definition($0), "definition"], ["HGETALL", KeySchema.poll($0)]] }, read: read) {
            [unowned self] replies in
            var loaded: [LoadedPoll?] = []
            for (index, id) in ids.enumerated() {
                guard let stored = replies[2 * index], let fields = replies[2 * index + 1] else { return completion(nil) }
                guard let json = stored["definition"], let version = StoredPoll.version(state: fields["state"], revision: fields["revision"]) else {
                    loaded.append(nil)
                    continue
                }
                guard let definition = try? StoredPoll.definition(json: json) else { return completion(nil) }
                let counts = definition.options.indices.map { fields[String($0)].flatMap { Int64($0) } ?? 0 }
                loaded.append(LoadedPoll(
                    id: id, definition: definition, version: version,
                    tallies: [(fields["version"].flatMap { Int64($0) } ?? 0, fields["voters"].flatMap { Int64($0) } ?? 0, counts)]))
            }
            readShardTallies(loaded, completion)
        }
    }

    /// Replaces the tallies of each sharded poll in `loaded` by its shards' own.
    private func readShardTallies(_ loaded: [LoadedPoll?], _ completion: @escaping ([LoadedPoll?]?) -> Void) {
        let shards = loaded.indices.flatMap { index in
            loaded[index].map { poll in
                poll.definition.shards > 1 ? PollShards(poll: poll.id, count: poll.definition.shards).all.map { (index, $0) } : []
            } ?? []
        }
        guard !shards.isEmpty else { return completion(loaded) }
        let commands = shards.map { index, shard in StoredPoll.talliesCommand(shard, options: loaded[index]!.definition.options.count) }
        let read = { (reply: RedisReply?) -> (version: Int64, voters: Int64, counts: [Int64])? in
            var tallies: (version: Int64, voters: Int64, counts: [Int64])?
            if let reply, reply.isArray {
                VerdictText.tallies(reply) { version, voters, count in tallies = (version, voters, (0..<reply.count - 2).map(count)) }
            }
            return tallies
        }
        callEach(commands, read: read) { tallies in
            var loaded = loaded
            for index in loaded.indices where loaded[index]?.definition.shards ?? 0 > 1 { loaded[index]!.tallies = [] }
            for ((index, _), shard) in zip(shards, tallies) {
                guard let shard else { return completion(nil) }
                loaded[index]!.tallies.append(shard)
            }
            completion(loaded)
        }
    }
}
