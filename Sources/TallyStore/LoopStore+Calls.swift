import TallyBase
import TallyCore

/// Organizer calls and reads (admin path: closures and allocation allowed). Each goes to the Redis
/// that holds its key: on a cluster, the master of the key's slot, following `MOVED` and `ASK`
/// as `LoopStore+Cluster.swift` does for votes.
extension LoopStore {
    /// Sends a command given as strings; `completion` gets the reply (nil if Redis is unreachable
    /// or went away before answering).
    public func call(_ arguments: [String], completion: @escaping (RedisReply?) -> Void) {
        call(bytes: arguments.map { Array($0.utf8) }, completion: completion)
    }

    /// The same, with arguments as raw bytes (voter ids need not be UTF-8).
    func call(bytes arguments: [[UInt8]], completion: @escaping (RedisReply?) -> Void) {
        send(arguments, to: node(forKey: LoopStore.key(of: arguments)), asking: false, hops: 0, completion)
    }

    /// A command for one Redis in particular (its checks, its script, the slot map).
    func call(_ arguments: [String], on node: StoreNode, completion: @escaping (RedisReply?) -> Void) {
        send(arguments.map { Array($0.utf8) }, to: node, asking: false, hops: 0, completion)
    }

    /// The key a command is routed by: the first key of a script call, else its first argument;
    /// nil for none (`TIME`).
    static func key(of arguments: [[UInt8]]) -> [UInt8]? {
        guard arguments.count > 1 else { return nil }
        let name = String(decoding: arguments[0], as: UTF8.self).uppercased()
        guard name == "EVAL" || name == "EVALSHA" || name == "FCALL" else { return arguments[1] }
        return arguments.count > 3 && arguments[2] != Array("0".utf8) ? arguments[3] : nil
    }

    private func send(_ arguments: [[UInt8]], to node: StoreNode?, asking: Bool, hops: Int, _ completion: @escaping (RedisReply?) -> Void) {
        guard let node, node.redis.state == .ready else { return completion(nil) }
        let tag = LoopStore.callTagBit | nextCallTag
        nextCallTag += 1
        let buffer = ByteBuffer(capacity: 256)
        RESPWriter(buffer).command(bytes: arguments)
        if asking && !node.redis.send(askingCommand.bytes, tag: LoopStore.askingTag) { return completion(nil) }
        guard node.redis.send(buffer.bytes, tag: tag) else { return completion(nil) }
        calls[tag] = { [unowned self] reply in
            guard let reply, hops < LoopStore.maxHops, let redirection = Redirection(reply) else { return completion(reply) }
            let (target, asking) = follow(redirection)
            send(arguments, to: target, asking: asking, hops: hops + 1, completion)
        }
    }

    /// Sends several commands; `completion` gets what `read` made of each reply (nil: none came),
    /// in order, once every one came. (A reply is valid only while `read` runs.)
    func callEach<Value>(_ commands: [[String]], read: @escaping (RedisReply?) -> Value, _ completion: @escaping ([Value]) -> Void) {
        guard !commands.isEmpty else { return completion([]) }
        var values: [Value?] = Array(repeating: nil, count: commands.count)
        var pending = commands.count
        for (index, command) in commands.enumerated() {
            call(command) { reply in
                values[index] = read(reply)
                pending -= 1
                if pending == 0 { completion(values.map { $0! }) }
            }
        }
    }

    /// Whether Redis is connected (reads may ask it); on a cluster, some of it.
    public var isConnected: Bool { nodes.contains { $0.redis.state == .ready } }

    /// Looks up a voter's stored ballot in their shard of a poll (a voter who may have voted through
    /// another daemon), takes it into this daemon's ledger and counts, then calls `completion` (also
    /// when Redis went away before answering). False, and no call, if the lookup could not be sent.
    public func lookUpBallot(shard: PollShard, voterID: UnsafeRawBufferPointer, voter: VoterKey, completion: @escaping () -> Void) -> Bool {
        let arguments = [Array("HGET".utf8), Array(KeySchema.ballots(shard).utf8), Array(voterID)]
        guard node(for: shard)?.redis.state == .ready else { return false }
        call(bytes: arguments) { [unowned self] reply in
            if let reply, let stored = VerdictText.ballot(reply) { reader.adopt(poll: shard.poll, voter: voter, stored: stored) }
            completion()
        }
        return true
    }

    /// A new poll id, unique across daemons (INCR); nil if Redis is unreachable.
    public func newPollID(_ completion: @escaping (PollID?) -> Void) {
        call(["INCR", KeySchema.nextPollID]) { reply in completion(reply?.integer.map { PollID($0) }) }
    }

    /// Writes a poll's definition and lifecycle (see `StoredPoll.saveCommand`); a new one
    /// (`expected` nil) is listed in `tally:polls` first. `definition.shards` is its shard count
    /// (fixed at creation): a poll of several shards gets the saved rules copied into each
    /// (`StoredPoll.shardRulesCommand`) before `completion` says saved, so every vote after the
    /// answer meets the new rules. (A daemon that stops in between leaves a shard behind until the
    /// next change or start, `PollSync.loadAll`.) With `ifUnvoted`, a sharded poll's shards are
    /// asked first, not in the script that writes: a vote in that round trip is not seen.
    public func savePoll(
        _ id: PollID, _ definition: PollDefinition, _ lifecycle: Lifecycle, expected: PollVersion?, ifUnvoted: Bool = false,
        _ completion: @escaping (PollSave) -> Void
    ) {
        let shards = PollShards(poll: id, count: max(definition.shards, 1))
        let save = StoredPoll.saveCommand(
            id: id, definition: definition, lifecycle: lifecycle, expected: expected, ifUnvoted: ifUnvoted && shards.count == 1)
        let copied: (PollSave) -> Void = { [unowned self] saved in
            guard case .saved(let revision) = saved, shards.count > 1 else { return completion(saved) }
            let copies = shards.all.map { StoredPoll.shardRulesCommand($0, revision: revision, definition: definition, lifecycle: lifecycle) }
            callEach(copies, read: { $0?.integer }) { completion($0.allSatisfy { $0 != nil } ? saved : .unavailable) }
        }
        let write = { [unowned self] in
            guard ifUnvoted, shards.count > 1 else { return call(save) { LoopStore.saved($0, copied) } }
            callEach(shards.all.map { ["EXISTS", KeySchema.ballots($0)] }, read: { $0?.integer }) { [unowned self] found in
                guard found.allSatisfy({ $0 != nil }) else { return completion(.unavailable) }
                guard found.allSatisfy({ $0 == 0 }) else { return completion(.voted) }
                call(save) { LoopStore.saved($0, copied) }
            }
        }
        guard expected != nil else {
            return call(StoredPoll.listCommand(id: id)) { reply in
                guard let reply, !reply.isError else { return completion(.unavailable) }
                write()
            }
        }
        write()
    }

    private static func saved(_ reply: RedisReply?, _ completion: (PollSave) -> Void) {
        guard let reply, !reply.isError else { return completion(.unavailable) }
        if let revision = reply.integer { return completion(.saved(revision: revision)) }
        if reply.isArray, reply.count == 3 { return completion(.changed(StoredPoll.version(state: reply[2].string, revision: reply[1].string))) }
        completion(reply.hasPrefix("VOTED") ? .voted : .unavailable)
    }

    /// Every voter's ballot in a poll (HGETALL of each shard: who chose what, for dialects whose
    /// polls are not anonymous), voter ids as text; nil if Redis could not be asked.
    public func ballots(of shards: PollShards, _ completion: @escaping ([(voter: String, ballot: Ballot)]?) -> Void) {
        let read = { (reply: RedisReply?) -> [(voter: String, ballot: Ballot)]? in
            guard let reply, reply.isArray else { return nil }
            return stride(from: 0, to: reply.count - 1, by: 2).compactMap { index in
                guard let voter = reply[index].string, let ballot = VerdictText.ballot(reply[index + 1]) else { return nil }
                return (voter, ballot)
            }
        }
        callEach(shards.all.map { ["HGETALL", KeySchema.ballots($0)] }, read: read) { found in
            completion(found.contains { $0 == nil } ? nil : found.flatMap { $0! })
        }
    }

    /// Deletes a poll with its ballots, then its other shards' keys (a daemon that stops in
    /// between leaves those, unread: no poll names them); true once Redis has done it.
    public func deletePoll(_ shards: PollShards, _ completion: @escaping (Bool) -> Void) {
        let id = shards.poll
        call(StoredPoll.deleteCommand(id: id)) { [unowned self] reply in
            guard let reply, !reply.isError else { return completion(false) }
            let others = shards.count > 1 ? shards.all.map { ["DEL", KeySchema.key(.poll, $0), KeySchema.ballots($0)] } : []
            callEach(others + [StoredPoll.unlistCommand(id: id)], read: { _ in () }) { _ in completion(true) }  // a leftover id is skipped at start
        }
    }
}

/// What became of a poll's save.
public enum PollSave {
    /// Saved as this revision.
    case saved(revision: Int64)
    /// Not saved: the poll is no longer at the version the change was based on; it is at this one
    /// (nil: it is gone).
    case changed(PollVersion?)
    /// Not saved: it may change only while nobody has voted, and somebody has.
    case voted
    /// Redis could not be asked, or failed.
    case unavailable
}

