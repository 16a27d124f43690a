import CLibUV
import TallyBase
import TallyCore

/// One loop's link to Redis: its own connection, the votes it accepted waiting to be stored (group
/// commit), and organizer calls. Everything runs on the loop's thread.
///
/// Group commit: votes submitted while the loop handles its reads are held; at the end of the loop
/// iteration (a `uv_check` handle) they go to Redis as one vote-script call per poll, written at
/// once. While an earlier batch is still with Redis, new votes keep gathering and go at the end of
/// the iteration in which its verdicts arrive: Redis runs scripts one at a time anyway, so this
/// costs a vote at most one more round trip and makes batches larger exactly when load is high
/// (measured: 1.3× the votes/s at 64 connections). When the verdicts come back, each vote is
/// settled in the engine and handed back with its ticket to whoever answers it (`onStored`). Never
/// a timer.
///
/// Bounded: at most `capacity` votes wait; beyond, and while Redis is not connected, `isTakingVotes`
/// is false and dialects answer 503 before touching the engine.
///
/// Checked: after every (re)connect, votes wait until Redis' persistence settings are read (a
/// Redis without an append-only file takes none unless `allowVolatile`) and its clock is known.
///
/// Replicated (`replicasToAck` > 0): after each flush's script calls a `WAIT replicas timeout` goes
/// on the same connection, and the calls' verdicts wait for it. A vote Redis applied is answered
/// only once that many replicas confirm the batch; if they do not in time, it is answered 503 —
/// stored on the master, but not where a failover would keep it (votes are idempotent: sending it
/// again is safe). Without it, a failover can drop acknowledged votes the replica had not received.
///
/// A 503 means not stored. Every vote call carries its deadline in Redis' time (`VoteScript`,
/// `RedisClock`): the moment the connection may be given up on. A call that gets no verdicts (the
/// connection dropped or timed out) is held, not answered: once Redis answers again and the
/// deadline has passed, after which Redis stores nothing of that call, its votes are looked up
/// and answered 200 or 503 as Redis has them (`LoopStore+Held.swift`).
public final class LoopStore {
    private let redis: RedisConnection
    let reader: RegistryReader
    let batches: VoteBatches
    let loop: UnsafeMutablePointer<uv_loop_t>
    private let commands = ByteBuffer(capacity: 16 * 1024)
    private let flushCheck: UnsafeMutablePointer<uv_check_t>
    private var calls: [UInt64: (RedisReply?) -> Void] = [:]
    private var nextCallTag: UInt64 = 1
    /// Script calls that could not be sent this flush (reused, so no allocation).
    private var unsent: [Int] = []
    /// Vote-script calls sent and not yet answered; while there are any, the next batch waits.
    private var scriptCallsInFlight = 0
    /// Votes answered 503 with their fate unknown (held past `holdLimit`): looked up once Redis is
    /// back, so that this daemon counts them if Redis stored them after all.
    private var unresolved: [(poll: PollID, voterID: [UInt8], voter: VoterKey)] = []
    /// Vote-script calls without verdicts, waiting to be looked up (`LoopStore+Held.swift`).
    var held: [HeldCall] = []
    let resolveTimer: UnsafeMutablePointer<uv_timer_t>
    /// Batching off (benchmark baseline): each vote is sent alone at once.
    private let batching: Bool
    /// Votes may go to a Redis without an append-only file.
    private let allowVolatile: Bool
    /// This connection's persistence settings allow votes, and Redis' clock is known.
    private(set) var verified = false
    private var clock = RedisClock()
    /// When each script call in flight was sent (`uv_hrtime`), by its first entry (its tag).
    private let sentAt: UnsafeMutablePointer<UInt64>
    /// Each script call's deadline (`uv_now` milliseconds), by its first entry.
    private let deadlines: UnsafeMutablePointer<UInt64>
    /// Replicas that must confirm a batch before its votes are answered (`WAIT`); 0: none.
    let replicasToAck: Int
    /// With `replicasToAck`: each entry's verdict, from its call's reply until the `WAIT` after it.
    private let verdicts: UnsafeMutablePointer<StoredVerdict>
    /// With `replicasToAck`: whether a call's verdicts are in `verdicts`, by its first entry.
    private let verdictsRead: UnsafeMutablePointer<Bool>
    /// Script calls whose verdicts wait for the `WAIT` sent after them, by first entry; and the
    /// ones a `WAIT` reply is settling (the two swap, so neither allocates).
    private var awaitingReplicas: [Int] = []
    private var replicasAnswered: [Int] = []
    /// `WAIT replicasToAck timeout`, formatted once.
    private let waitCommand = ByteBuffer(capacity: 64)
    public let stats = StoreStats()

    /// - Parameters:
    ///   - capacity: votes that may wait for Redis at once on this loop.
    ///   - timeoutMilliseconds: a command unanswered this long fails (its votes get 503).
    ///   - batching: false sends every vote as its own script call, as soon as it is submitted.
    ///   - allowVolatile: take votes even when Redis has no append-only file.
    ///   - replicasToAck: replicas that must confirm each batch before its votes are answered.
    public init(
        context: LoopContext, host: String, port: Int, reader: RegistryReader, capacity: Int = 16_384,
        timeoutMilliseconds: Int = 1_000, batching: Bool = true, allowVolatile: Bool = false, replicasToAck: Int = 0
    ) {
        loop = context.uvLoop
        redis = RedisConnection(host: host, port: port, loop: context.uvLoop)
        redis.commandTimeoutMilliseconds = UInt64(timeoutMilliseconds)
        self.reader = reader
        self.batching = batching
        self.allowVolatile = allowVolatile
        batches = VoteBatches(capacity: capacity)
        sentAt = .allocate(capacity: capacity)
        deadlines = .allocate(capacity: capacity)
        self.replicasToAck = replicasToAck
        verdicts = .allocate(capacity: capacity)
        verdicts.initialize(repeating: .unknown, count: capacity)
        verdictsRead = .allocate(capacity: capacity)
        verdictsRead.initialize(repeating: false, count: capacity)
        awaitingReplicas.reserveCapacity(capacity)
        replicasAnswered.reserveCapacity(capacity)
        // At most half the command timeout, so a missing replica costs a 503, not the connection.
        RESPWriter(waitCommand).command(["WAIT", String(replicasToAck), String(timeoutMilliseconds / 2)])
        resolveTimer = .allocate(capacity: 1)
        flushCheck = .allocate(capacity: 1)
        uv_check_init(context.uvLoop, flushCheck)
        flushCheck.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_init(context.uvLoop, resolveTimer)
        resolveTimer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_check_start(flushCheck) { check in
            Unmanaged<LoopStore>.fromOpaque(check!.pointee.data).takeUnretainedValue().flush()
        }
        unsent.reserveCapacity(64)
        redis.onReply = { [unowned self] tag, reply in replied(tag, reply) }
        // The first commands of every connection; EVALSHA comes after them on the same connection.
        redis.onStateChange = { [unowned self] state in
            if state == .ready {
                loadScript()
                verify()
                resolveUnknownVotes()
            } else {
                setVerified(false)
            }
        }
        context.onStop { [unowned self] in stop() }
    }

    deinit {
        flushCheck.deallocate()
        sentAt.deallocate()
        deadlines.deallocate()
        verdicts.deallocate()
        verdictsRead.deallocate()
        resolveTimer.deallocate()
    }

    /// Called on the loop's thread whenever `isTakingVotes` changes for a reason other than a full
    /// queue: Redis connected and checked, or lost.
    public var onReadinessChange: (Bool) -> Void = { _ in }
    /// Called on the loop's thread with Redis' persistence settings after every (re)connect.
    public var onDurability: (RedisDurability) -> Void = { _ in }

    /// Whether a vote may be submitted now: Redis is connected and checked, and the queue has room.
    public var isTakingVotes: Bool { verified && !batches.isFull }

    /// Called on the loop's thread with each submitted vote once Redis has judged it (or it could
    /// not be stored), and the ticket it was submitted with.
    public var onStored: (StoredVote, VoteTicket) -> Void = { _, _ in }

    /// Hands over a vote the engine recorded uncounted (`accepted`, or `unchanged` on a poll that
    /// allows revotes, where another daemon may have changed the ballot since); `onStored` gets it
    /// back with `ticket` when Redis has judged it. `added`: for a vote that adds options to the ballot
    /// (`BallotInput.adds`), those options (Redis adds them to its own ballot); else empty. Call
    /// only when `isTakingVotes`.
    public func submit(
        poll: PollID, voterID: UnsafeRawBufferPointer, voter: VoterKey, previous: Ballot, current: Ballot, added: Ballot,
        ticket: VoteTicket
    ) {
        batches.add(
            PendingVote(poll: poll, voter: voter, previous: previous, current: current, added: added, ticket: ticket),
            voterID: voterID)
        if !batching { flush() }
    }

    // MARK: - Group commit

    /// End of a loop iteration: one script call per poll for the votes gathered, unless an earlier
    /// batch is still with Redis.
    private func flush() {
        guard batches.hasUnsent, scriptCallsInFlight == 0 || !batching else { return }
        batches.sendGroups { poll, firstEntry, count in
            if !sendGroup(poll: poll, first: firstEntry, count: count, withSource: false) { unsent.append(firstEntry) }
        }
        for first in unsent { settleGroup(first) { _, _, _ in .notStored } }
        unsent.removeAll(keepingCapacity: true)
        if !awaitingReplicas.isEmpty { sendWait() }
        redis.writeNow()
    }

    /// Sends one poll's votes as a vote-script call: by its SHA-1 (EVALSHA), or with the script's
    /// source (EVAL, which also loads it) when Redis answered NOSCRIPT.
    private func sendGroup(poll: PollID, first: Int, count: Int, withSource: Bool) -> Bool {
        let giveUp = redis.earliestGiveUp
        guard verified, let deadline = clock.redisMicroseconds(atLoopMilliseconds: giveUp) else { return false }
        commands.removeAll()
        let writer = RESPWriter(commands)
        writer.begin(arguments: 6 + 2 * count)
        writer.argument(withSource ? "EVAL" : "EVALSHA")
        writer.argument(string: withSource ? VoteScript.source : VoteScript.sha1)
        writer.argument("2")
        writer.key(.poll, poll)
        writer.key(.ballots, poll)
        writer.argument(decimal: deadline)
        batches.writeVotes(from: first, to: writer)
        let tag = UInt64(first) | (withSource ? LoopStore.sourceTagBit : 0)
        guard redis.send(commands.bytes, tag: tag) else { return false }
        scriptCallsInFlight += 1
        if replicasToAck > 0 { awaitingReplicas.append(first) }
        sentAt[first] = uv_hrtime()
        deadlines[first] = giveUp
        stats.sent(votes: count)
        return true
    }

    /// `WAIT` after the script calls just sent: their verdicts are answered when it replies.
    private func sendWait() {
        if redis.send(waitCommand.bytes, tag: LoopStore.waitTag) { scriptCallsInFlight += 1 }
    }

    /// The `WAIT` replied (nil: the connection went first): the calls whose verdicts are in are
    /// settled, their applied votes answered only if enough replicas confirmed them.
    private func replicasReplied(_ reply: RedisReply?) {
        scriptCallsInFlight -= 1
        let confirmed = (reply?.integer ?? 0) >= Int64(replicasToAck)
        if !confirmed { stats.replicasFellShort() }
        // Taken out first: answering may send new calls (batching off), which wait for a new WAIT.
        swap(&awaitingReplicas, &replicasAnswered)
        for first in replicasAnswered {
            if verdictsRead[first] {
                verdictsRead[first] = false
                settleGroup(first, confirmed: confirmed) { _, entry, _ in verdicts[entry] }
            } else {
                awaitingReplicas.append(first)  // resent after a NOSCRIPT: the WAIT sent after it answers it
            }
        }
        replicasAnswered.removeAll(keepingCapacity: true)
    }

    private func resolveUnknownVotes() {
        let lookups = unresolved
        unresolved = []
        for (poll, voterID, voter) in lookups {
            call(bytes: [Array("HGET".utf8), Array(KeySchema.ballots(poll).utf8), voterID]) { [unowned self] reply in
                guard let reply else { return unresolved.append((poll, voterID, voter)) }
                guard let stored = VerdictText.ballot(reply) else { return }
                reader.adopt(poll: poll, voter: voter, stored: stored)
            }
        }
    }

    private func loadScript() { call(["SCRIPT", "LOAD", VoteScript.source]) { _ in } }

    /// Reads Redis' persistence settings, then its clock; votes flow once both are known (and the
    /// settings allow them). A reply lost to a dropped connection is asked again on the next one.
    private func verify() {
        call(RedisDurability.query) { [unowned self] reply in
            guard let reply else { return }
            let durability = RedisDurability(configReply: reply)
            stats.record(durability)
            onDurability(durability)
            guard durability.hasAppendOnlyFile || allowVolatile else { return }
            call(["TIME"]) { [unowned self] reply in
                guard let reply, reply.count == 2, let seconds = reply[0].decimal, let microseconds = reply[1].decimal else { return }
                clock.observe(redisMicroseconds: seconds * 1_000_000 + microseconds)
                setVerified(true)
            }
        }
    }

    private func setVerified(_ value: Bool) {
        guard value != verified else { return }
        verified = value
        if !value { clock.forget() }
        onReadinessChange(value)
    }

    private func replied(_ tag: UInt64, _ reply: RedisReply?) {
        if tag == LoopStore.waitTag {
            replicasReplied(reply)
        } else if tag & LoopStore.callTagBit != 0 {
            calls.removeValue(forKey: tag)?(reply)
        } else {
            scriptCallsInFlight -= 1
            let first = Int(tag & ~LoopStore.sourceTagBit)
            // No reply: Redis may still run the call, until its deadline.
            guard let reply else { return hold(first, lookUpAt: deadlines[first]) }
            stats.roundTrip.observe(microseconds: Int64((uv_hrtime() - sentAt[first]) / 1_000))
            // Redis lost the script (restarted without it, SCRIPT FLUSH): nothing of the call ran,
            // so the same votes go again, once, with the source. Later batches wait for them, so a
            // voter's votes still reach Redis in order.
            if reply.isError, reply.hasPrefix("NOSCRIPT"), tag & LoopStore.sourceTagBit == 0 {
                if replicasToAck > 0 { awaitingReplicas.removeAll { $0 == first } }
                if sendGroup(poll: batches[first].poll, first: first, count: batches.groupCount(from: first), withSource: true) {
                    if replicasToAck > 0 { sendWait() }
                    return
                }
            }
            // An error instead of verdicts (out of memory, …): Redis has answered, so it runs
            // nothing of the call later; what it stored is looked up at once.
            guard reply.isArray, reply.count >= 2 else {
                if replicasToAck > 0 { awaitingReplicas.removeAll { $0 == first } }
                return hold(first, lookUpAt: uv_now(loop))
            }
            // Redis' time, then the poll's tallies after this call, before any answer goes out:
            // whoever reads results next, on any loop of this daemon, sees these votes (and every
            // other daemon's so far).
            if let now = reply[reply.count - 1].integer { clock.observe(redisMicroseconds: now) }
            VerdictText.tallies(reply[reply.count - 2]) { version, voters, count in
                reader.recordStoredTallies(poll: batches[first].poll, version: version, voters: voters, count: count)
            }
            let count = reply.count - 2
            guard replicasToAck > 0 else {
                return settleGroup(first) { index, _, _ in index < count ? VerdictText.parse(reply[index]) : .unknown }
            }
            // Kept for the WAIT after the call.
            var index = 0
            var entry = first
            while entry >= 0 {
                verdicts[entry] = index < count ? VerdictText.parse(reply[index]) : .unknown
                entry = Int(batches[entry].next)
                index += 1
            }
            verdictsRead[first] = true
        }
    }

    /// Settles every vote of one script call by its verdict (by its index in the call, its entry),
    /// and answers it. Not `confirmed` by enough replicas (`replicasToAck`), a vote Redis applied
    /// is settled as applied but answered as not stored.
    func settleGroup(_ first: Int, confirmed: Bool = true, _ verdictOf: (Int, Int, PendingVote) -> StoredVerdict) {
        var index = 0
        var entry: Int? = first
        while let current = entry {
            let vote = batches[current]
            let verdict = verdictOf(index, current, vote)
            reader.settle(
                poll: vote.poll, voter: vote.voter, previous: vote.previous, current: vote.current, added: vote.added, verdict: verdict)
            if verdict == .unknown && unresolved.count < batches.capacity {
                unresolved.append((vote.poll, Array(batches.voterID(current)), vote.voter))
            }
            let answered: StoredVerdict
            switch verdict {
            case .accepted, .unchanged: answered = confirmed ? verdict : .notStored
            default: answered = verdict
            }
            onStored(StoredVote(vote: vote, verdict: answered), vote.ticket)
            entry = batches.finish(current)
            index += 1
        }
    }

    // MARK: - Organizer calls (admin path: closures and allocation allowed)

    private static let callTagBit: UInt64 = 1 << 63
    /// Marks a vote-script call sent with its source after a NOSCRIPT.
    private static let sourceTagBit: UInt64 = 1 << 62
    /// The `WAIT` after a flush's script calls (`replicasToAck`).
    private static let waitTag: UInt64 = 1 << 61

    /// Sends a command given as strings; `completion` gets the reply (nil if Redis is unreachable
    /// or went away before answering).
    public func call(_ arguments: [String], completion: @escaping (RedisReply?) -> Void) {
        call(bytes: arguments.map { Array($0.utf8) }, completion: completion)
    }

    /// The same, with arguments as raw bytes (voter ids need not be UTF-8).
    func call(bytes arguments: [[UInt8]], completion: @escaping (RedisReply?) -> Void) {
        if !enqueue(arguments, completion) { completion(nil) }
    }

    /// Sends a command whose reply goes to `completion` later; false (and no call) if it could not
    /// be sent.
    private func enqueue(_ arguments: [[UInt8]], _ completion: @escaping (RedisReply?) -> Void) -> Bool {
        let tag = LoopStore.callTagBit | nextCallTag
        nextCallTag += 1
        let buffer = ByteBuffer(capacity: 256)
        RESPWriter(buffer).command(bytes: arguments)
        guard redis.send(buffer.bytes, tag: tag) else { return false }
        calls[tag] = completion
        return true
    }

    /// Whether Redis is connected (reads may ask it).
    public var isConnected: Bool { redis.state == .ready }

    /// Looks up a voter's stored ballot in `poll` (a voter who may have voted through another
    /// daemon), takes it into this daemon's ledger and counts, then calls `completion` (also when
    /// Redis went away before answering). False, and no call, if the lookup could not be sent.
    public func lookUpBallot(poll: PollID, voterID: UnsafeRawBufferPointer, voter: VoterKey, completion: @escaping () -> Void) -> Bool {
        enqueue([Array("HGET".utf8), Array(KeySchema.ballots(poll).utf8), Array(voterID)]) { [unowned self] reply in
            if let reply, let stored = VerdictText.ballot(reply) { reader.adopt(poll: poll, voter: voter, stored: stored) }
            completion()
        }
    }

    /// A new poll id, unique across daemons (INCR); nil if Redis is unreachable.
    public func newPollID(_ completion: @escaping (PollID?) -> Void) {
        call(["INCR", KeySchema.nextPollID]) { reply in completion(reply?.integer.map { PollID($0) }) }
    }

    /// Writes a poll's definition and lifecycle (see `StoredPoll.saveCommand`); a new one
    /// (`expected` nil) is listed in `tally:polls` first.
    public func savePoll(
        _ id: PollID, _ definition: PollDefinition, _ lifecycle: Lifecycle, expected: PollVersion?, ifUnvoted: Bool = false,
        _ completion: @escaping (PollSave) -> Void
    ) {
        let save = StoredPoll.saveCommand(id: id, definition: definition, lifecycle: lifecycle, expected: expected, ifUnvoted: ifUnvoted)
        guard expected != nil else {
            return call(StoredPoll.listCommand(id: id)) { [unowned self] reply in
                guard let reply, !reply.isError else { return completion(.unavailable) }
                call(save) { LoopStore.saved($0, completion) }
            }
        }
        call(save) { LoopStore.saved($0, completion) }
    }

    private static func saved(_ reply: RedisReply?, _ completion: (PollSave) -> Void) {
        guard let reply, !reply.isError else { return completion(.unavailable) }
        if let revision = reply.integer { return completion(.saved(revision: revision)) }
        if reply.isArray, reply.count == 3 { return completion(.changed(StoredPoll.version(state: reply[2].string, revision: reply[1].string))) }
        completion(reply.hasPrefix("VOTED") ? .voted : .unavailable)
    }

    /// Every voter's ballot in `poll` (HGETALL: who chose what, for dialects whose polls are not
    /// anonymous), voter ids as text; nil if Redis could not be asked.
    public func ballots(poll: PollID, _ completion: @escaping ([(voter: String, ballot: Ballot)]?) -> Void) {
        call(["HGETALL", KeySchema.ballots(poll)]) { reply in
            guard let reply, reply.isArray else { return completion(nil) }
            var ballots: [(voter: String, ballot: Ballot)] = []
            for index in stride(from: 0, to: reply.count - 1, by: 2) {
                guard let voter = reply[index].string, let ballot = VerdictText.ballot(reply[index + 1]) else { continue }
                ballots.append((voter, ballot))
            }
            completion(ballots)
        }
    }

    /// Deletes a poll with its ballots; true once Redis has done it.
    public func deletePoll(_ id: PollID, _ completion: @escaping (Bool) -> Void) {
        call(StoredPoll.deleteCommand(id: id)) { [unowned self] reply in
            guard let reply, !reply.isError else { return completion(false) }
            call(StoredPoll.unlistCommand(id: id)) { _ in completion(true) }  // a leftover id is skipped at start
        }
    }

    private func stop() {
        uv_close(UnsafeMutablePointer<uv_handle_t>(OpaquePointer(flushCheck)), nil)
        uv_close(UnsafeMutablePointer<uv_handle_t>(OpaquePointer(resolveTimer)), nil)
        redis.stop()
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

/// A vote as Redis judged it, for whoever answers it.
public struct StoredVote {
    public let poll: PollID
    public let voter: VoterKey
    /// The ballot the voter asked for (for a vote that adds options, the ballot Redis now holds).
    public let ballot: Ballot
    /// What happened, as the dialect answers it; nil when Redis could not store it (answer 503).
    public let outcome: VoteOutcome?

    init(vote: PendingVote, verdict: StoredVerdict) {
        poll = vote.poll
        voter = vote.voter
        var ballot = vote.current
        switch verdict {
        case .accepted(let previous):
            if !vote.added.isEmpty { ballot = Ballot(mask: previous.mask | vote.added.mask) }  // Redis' union
            outcome = .accepted(previous: previous, current: ballot)
        case .unchanged: outcome = .unchanged(vote.current)
        case .rejected(let reason): outcome = .rejected(reason)
        case .notStored, .unknown: outcome = nil
        }
        self.ballot = ballot
    }
}
