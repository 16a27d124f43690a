import TallyCore

/// A poll as Redis has it, read back by a loop: one this daemon let go of after it closed
/// (`PollRegistry.drop`), or one created through another daemon a moment ago. No ballots: Redis
/// judges votes, and its tallies give the results.
public struct LoadedPoll {
    public let id: PollID
    public let definition: PollDefinition
    public let version: PollVersion
    /// Redis' tallies: their version (0: nobody voted yet), voters, and votes per option.
    public let talliesVersion: Int64
    public let voters: Int64
    public let counts: [Int64]
}

extension LoopStore {
    /// Reads the polls `ids` (two pipelined commands each, one round trip for all); `completion`
    /// gets them in order, nil for one Redis does not have, or nil instead of the list if Redis
    /// could not be asked or a poll could not be read. Admin path: Foundation decodes.
    public func loadPolls(_ ids: [PollID], _ completion: @escaping ([LoadedPoll?]?) -> Void) {
        guard !ids.isEmpty else { return completion([]) }
        var definitions: [String?] = []
        var fields: [[String: String]] = []
        var failed = false
        var pending = 2 * ids.count
        func finish() {
            pending -= 1
            guard pending == 0 else { return }
            guard !failed else { return completion(nil) }
            var loaded: [LoadedPoll?] = []
            for (index, id) in ids.enumerated() {
                guard let json = definitions[index], let version = StoredPoll.version(state: fields[index]["state"], revision: fields[index]["revision"]) else {
                    loaded.append(nil)
                    continue
                }
                guard let definition = try? StoredPoll.definition(json: json) else { return completion(nil) }
                let hash = fields[index]
                loaded.append(LoadedPoll(
                    id: id, definition: definition, version: version,
                    talliesVersion: hash["version"].flatMap { Int64($0) } ?? 0, voters: hash["voters"].flatMap { Int64($0) } ?? 0,
                    counts: definition.options.indices.map { hash[String($0)].flatMap { Int64($0) } ?? 0 }))
            }
            completion(loaded)
        }
        for id in ids {
            call(["HGET", KeySchema.definition(id), "definition"]) { reply in
                if let reply, !reply.isError { definitions.append(reply.string) } else { failed = true }
                finish()
            }
            call(["HGETALL", KeySchema.poll(id)]) { reply in
                guard let reply, reply.isArray else {
                    failed = true
                    return finish()
                }
                var hash: [String: String] = [:]
                for index in stride(from: 0, to: reply.count - 1, by: 2) {
                    if let field = reply[index].string { hash[field] = reply[index + 1].string }
                }
                fields.append(hash)
                finish()
            }
        }
    }
}
