import CLibUV
import TallyBase
import TallyCore

/// One loop's link to Redis: its own connection to the Redis (or to each master of a Redis Cluster,
/// `LoopStore+Cluster.swift`), the votes it accepted waiting to be stored (group commit), and
/// organizer calls (`LoopStore+Calls.swift`). Everything runs on the loop's thread.
///
/// Group commit: votes submitted while the loop handles its reads are held; at the end of the loop
/// iteration (a `uv_check` handle) they go to Redis as one vote-script call per poll shard
/// (`PollShards`; to the node that serves the shard's slot), written at once. While an earlier
/// batch is still with that Redis, new votes for its shards keep gathering and go at the end of the
/// iteration in which its verdicts arrive: Redis runs scripts one at a time anyway, so this costs a vote at most one more round
/// trip and makes batches larger exactly when load is high (measured: 1.3× the votes/s at 64
/// connections). When the verdicts come back, each vote is
/// settled in the engine and handed back with its ticket to whoever answers it (`onStored`). Never
/// a timer.
///
/// Bounded: at most `capacity` votes wait; beyond, and while the poll's Redis is not connected,
/// `isTakingVotes(for:)` is false and dialects answer 503 before touching the engine.
///
/// Checked: after every (re)connect, votes wait until Redis' persistence settings are read (a
/// Redis without an append-only file takes none unless `allowVolatile`) and its clock is known.
///
/// Replicated (`replicasToAck` > 0): after each flush's script calls a `WAIT replicas timeout` goes
/// on each connection that got some, and the calls' verdicts wait for it. A vote Redis applied is answered
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
    /// The Redis, or each master of the cluster: with `slots`, `nodes[i]` is `slots.masters[i]`.
    var nodes: [StoreNode] = []
    /// With a Redis Cluster, which master serves each slot; nil: one Redis, `nodes[0]`.
    var slots: SlotMap?
    /// The slot map may be out of date (a redirection, a node lost): read again on the next sweep.
    var mapIsStale = false
    var readingMap = false
    let reader: RegistryReader
    let batches: VoteBatches
    let loop: UnsafeMutablePointer<uv_loop_t>
    private let commands = ByteBuffer(capacity: 16 * 1024)
    private let flushCheck: UnsafeMutablePointer<uv_check_t>
    var calls: [UInt64: (RedisReply?) -> Void] = [:]
    var nextCallTag: UInt64 = 1
    /// Script calls that could not be sent this flush (reused, so no allocation).
    private var unsent: [Int] = []
    /// Votes answered 503 with their fate unknown (held past `holdLimit`): looked up once Redis is
    /// back, so that this daemon counts them if Redis stored them after all.
    private var unresolved: [(shard: PollShard, voterID: [UInt8], voter: VoterKey)] = []
    /// Vote-script calls without verdicts, waiting to be looked up (`LoopStore+Held.swift`).
    var held: [HeldCall] = []
    /// Vote-script calls a cluster node refused before running them (`TRYAGAIN`, a redirection to
    /// a node not connected yet), sent again on the next tick (`LoopStore+Cluster.swift`).
    var parked: [(first: Int, since: UInt64)] = []
    /// Redirections followed in a row, by a script call's first entry.
    let hops: UnsafeMutablePointer<UInt8>
    let tickTimer: UnsafeMutablePointer<uv_timer_t>
    var ticking = false
    /// Batching off (benchmark baseline): each vote is sent alone at once.
    private let batching: Bool
    /// Votes may go to a Redis without an append-only file.
    private let allowVolatile: Bool
    let timeoutMilliseconds: Int
    /// Every Redis the loop needs is connected and checked (for `/readyz`).
    private(set) var isReady = false
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
    /// `WAIT replicasToAck timeout` and `ASKING`, formatted once.
    private let waitCommand = ByteBuffer(capacity: 64)
    let askingCommand = ByteBuffer(capacity: 32)
    public let stats = StoreStats()
    /// `[redis] shards`: the shards in Redis (`PollShards`) of every poll created without a count
    /// of its own; nil: `shardsPerHotPoll` for a poll that expects `hotPollVoters` or more, one for
    /// the others (each shard costs a poll a hash or two in Redis and a round trip at its close).
    public var shardsPerPoll: Int?
    /// One per master on a cluster; 1 with one Redis.
    public var shardsPerHotPoll = 1
    public static let hotPollVoters = 100_000

    /// The shards of a new poll that names no count of its own.
    public func defaultShards(expectedVoters: Int) -> Int {
        shardsPerPoll ?? (expectedVoters >= LoopStore.hotPollVoters ? shardsPerHotPoll : 1)
    }

    /// - Parameters:
    ///   - redis: the Redis ("host:port"), or the masters of a Redis Cluster and the slot map read
    ///     at start (`StoreTarget`).
    ///   - capacity: votes that may wait for Redis at once on this loop.
    ///   - timeoutMilliseconds: a command unanswered this long fails (its votes get 503).
    ///   - batching: false sends every vote as its own script call, as soon as it is submitted.
    ///   - allowVolatile: take votes even when Redis has no append-only file.
    ///   - replicasToAck: replicas that must confirm each batch before its votes are answered.
    public init(
        context: LoopContext, redis target: StoreTarget, reader: RegistryReader, capacity: Int = 16_384,
        timeoutMilliseconds: Int = 1_000, batching: Bool = true, allowVolatile: Bool = false, replicasToAck: Int = 0
    ) {
        loop = context.uvLoop
        self.reader = reader
        self.batching = batching
        self.allowVolatile = allowVolatile
        self.timeoutMilliseconds = timeoutMilliseconds
        batches = VoteBatches(capacity: capacity)
        sentAt = .allocate(capacity: capacity)
        deadlines = .allocate(capacity: capacity)
        hops = .allocate(capacity: capacity)
        hops.initialize(repeating: 0, count: capacity)
        self.replicasToAck = replicasToAck
        verdicts = .allocate(capacity: capacity)
        verdicts.initialize(repeating: .unknown, count: capacity)
        verdictsRead = .allocate(capacity: capacity)
        verdictsRead.initialize(repeating: false, count: capacity)
        // At most half the command timeout, so a missing replica costs a 503, not the connection.
        RESPWriter(waitCommand).command(["WAIT", String(replicasToAck), String(timeoutMilliseconds / 2)])
        RESPWriter(askingCommand).command(["ASKING"])
        tickTimer = .allocate(capacity: 1)
        flushCheck = .allocate(capacity: 1)
        uv_check_init(context.uvLoop, flushCheck)
        flushCheck.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_init(context.uvLoop, tickTimer)
        tickTimer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_check_start(flushCheck) { check in
            Unmanaged<LoopStore>.fromOpaque(check!.pointee.data).takeUnretainedValue().flush()
        }
        unsent.reserveCapacity(64)
        parked.reserveCapacity(64)
        switch target {
        case .single(let address): addNode(address)
        case .cluster(let map):
            slots = map
            addMissingNodes()
            context.onSweep { [unowned self] in readMapIfStale() }
        }
        context.onStop { [unowned self] in stop() }
    }

    deinit {
        flushCheck.deallocate()
        sentAt.deallocate()
        deadlines.deallocate()
        hops.deallocate()
        verdicts.deallocate()
        verdictsRead.deallocate()
        tickTimer.deallocate()
    }

    /// Called on the loop's thread whenever `isReady` changes: every Redis connected and checked,
    /// or one lost.
    public var onReadinessChange: (Bool) -> Void = { _ in }
    /// Called on the loop's thread with a Redis' address and persistence settings after every
    /// (re)connect.
    public var onDurability: (String, RedisDurability) -> Void = { _, _ in }

    /// Whether votes may be submitted now at all: the queue has room and a Redis is connected and
    /// checked (the gate before anything else; `isTakingVotes(for:)` then asks for the voter's shard).
    @inline(__always)
    public var isTakingVotes: Bool { !batches.isFull && nodes.contains { $0.verified } }

    /// Whether a vote for a poll shard (the voter's, `PollShards.of`) may be submitted now: the
    /// Redis that serves it is connected and checked, and the queue has room.
    @inline(__always)
    public func isTakingVotes(for shard: PollShard) -> Bool { !batches.isFull && node(for: shard)?.verified == true }

    /// Called on the loop's thread with each submitted vote once Redis has judged it (or it could
    /// not be stored), and the ticket it was submitted with.
    public var onStored: (StoredVote, VoteTicket) -> Void = { _, _ in }

    /// Hands over a vote the engine recorded uncounted (`accepted`, or `unchanged` on a poll that
    /// allows revotes, where another daemon may have changed the ballot since); `onStored` gets it
    /// back with `ticket` when Redis has judged it. `added`: for a vote that adds options to the ballot
    /// (`BallotInput.adds`), those options (Redis adds them to its own ballot); else empty. Call
    /// only when `isTakingVotes(for: shard)`; `shard` is the voter's (`PollShards.of`).
    public func submit(
        shard: PollShard, voterID: UnsafeRawBufferPointer, voter: VoterKey, previous: Ballot, current: Ballot, added: Ballot,
        ticket: VoteTicket
    ) {
        batches.add(
            PendingVote(shard: shard, voter: voter, previous: previous, current: current, added: added, ticket: ticket),
            voterID: voterID)
        if !batching { flush() }
    }

    // MARK: - Nodes

    /// Connects to one more Redis: its checks run on every (re)connect.
    func addNode(_ address: String) {
        let node = StoreNode(address: address, loop: loop, timeoutMilliseconds: timeoutMilliseconds, capacity: batches.capacity)
        nodes.append(node)
        node.redis.onReply = { [unowned self, unowned node] tag, reply in replied(node, tag, reply) }
        // The first commands of every connection; EVALSHA comes after them on the same connection.
        node.redis.onStateChange = { [unowned self, unowned node] state in
            if state == .ready {
                loadScript(node)
                verify(node)
                resolveUnknownVotes()
            } else {
                node.lost()
                if slots != nil { mapIsStale = true }
                updateReadiness()
            }
        }
    }

    private func loadScript(_ node: StoreNode) { call(["SCRIPT", "LOAD", VoteScript.source], on: node) { _ in } }

    /// Reads a Redis' persistence settings, then its clock; votes flow to it once both are known
    /// (and the settings allow them). A reply lost to a dropped connection is asked again on the next one.
    private func verify(_ node: StoreNode) {
        call(RedisDurability.query, on: node) { [unowned self] reply in
            guard let reply else { return }
            node.durability = RedisDurability(configReply: reply)
            stats.record(nodes.map(\.durability).filter { $0 != .unknown }.min { $0.rawValue < $1.rawValue } ?? .unknown)
            onDurability(node.address, node.durability)
            guard node.durability.hasAppendOnlyFile || allowVolatile else { return }
            call(["TIME"], on: node) { [unowned self] reply in
                guard let reply, reply.count == 2, let seconds = reply[0].decimal, let microseconds = reply[1].decimal else { return }
                node.clock.observe(redisMicroseconds: seconds * 1_000_000 + microseconds)
                node.verified = true
                updateReadiness()
            }
        }
    }

    /// Whether every Redis that serves slots is connected and checked; tells `onReadinessChange`.
    func updateReadiness() {
        let ready = nodes.indices.allSatisfy { index in nodes[index].verified || (slots.map { !$0.isMaster(index) } ?? false) }
        guard ready != isReady else { return }
        isReady = ready
        onReadinessChange(ready)
    }

    // MARK: - Group commit

    /// End of a loop iteration: one script call per poll shard for the votes gathered, unless an
    /// earlier batch is still with its Redis.
    private func flush() {
        // While a call is parked nothing goes (it may be for any Redis now), nor while every Redis
        // still has a call of this loop's.
        guard batches.hasUnsent, !batching || parked.isEmpty && nodes.contains(where: { $0.callsInFlight == 0 }) else { return }
        batches.sendGroups { shard, firstEntry, count in
            // A shard whose Redis still has a call of this loop's waits for its verdicts (a voter's
            // votes reach Redis in order); the shards of the other masters go.
            let node = node(for: shard)
            if batching, let node, node.callsInFlight > 0 { return false }
            hops[firstEntry] = 0
            if !sendGroup(shard: shard, first: firstEntry, count: count, withSource: false, to: node) { unsent.append(firstEntry) }
            return true
        }
        for first in unsent { settleGroup(first) { _, _, _ in .notStored } }
        unsent.removeAll(keepingCapacity: true)
        writeSent()
    }

    /// Sends one poll shard's votes as a vote-script call to `node` (by default the one that serves
    /// the shard): by its SHA-1 (EVALSHA), or with the script's source (EVAL, which also loads it) when
    /// Redis answered NOSCRIPT; after `ASKING` when a cluster node said the poll's slot is moving
    /// there. `writeSent` then sends it.
    func sendGroup(shard: PollShard, first: Int, count: Int, withSource: Bool, to target: StoreNode? = nil, asking: Bool = false) -> Bool {
        guard let node = target ?? node(for: shard), node.verified else { return false }
        let giveUp = node.redis.earliestGiveUp
        guard let deadline = node.clock.redisMicroseconds(atLoopMilliseconds: giveUp) else { return false }
        commands.removeAll()
        let writer = RESPWriter(commands)
        writer.begin(arguments: 6 + 2 * count)
        writer.argument(withSource ? "EVAL" : "EVALSHA")
        writer.argument(string: withSource ? VoteScript.source : VoteScript.sha1)
        writer.argument("2")
        writer.key(.poll, shard)
        writer.key(.ballots, shard)
        writer.argument(decimal: deadline)
        batches.writeVotes(from: first, to: writer)
        let tag = UInt64(first) | (withSource ? LoopStore.sourceTagBit : 0)
        if asking && !node.redis.send(askingCommand.bytes, tag: LoopStore.askingTag) { return false }
        guard node.redis.send(commands.bytes, tag: tag) else { return false }
        node.callsInFlight += 1
        if replicasToAck > 0 { node.awaitingReplicas.append(first) }
        node.sentThisFlush = true
        sentAt[first] = uv_hrtime()
        deadlines[first] = giveUp
        stats.sent(votes: count)
        return true
    }

    /// Writes what this flush sent, on each connection that got script calls: with
    /// `replicasToAck`, a `WAIT` after them, whose reply answers them.
    func writeSent() {
        for node in nodes where node.sentThisFlush {
            node.sentThisFlush = false
            if replicasToAck > 0 && node.redis.send(waitCommand.bytes, tag: LoopStore.waitTag) { node.callsInFlight += 1 }
            node.redis.writeNow()
        }
    }

    /// Sends a script call again (after a NOSCRIPT or a redirection: nothing of it ran) to `node`.
    func resend(_ first: Int, to node: StoreNode, withSource: Bool = false, asking: Bool = false) -> Bool {
        guard sendGroup(
            shard: batches[first].shard, first: first, count: batches.groupCount(from: first), withSource: withSource, to: node,
            asking: asking)
        else { return false }
        writeSent()
        return true
    }

    /// A `WAIT` replied (nil: the connection went first): the calls whose verdicts are in are
    /// settled, their applied votes answered only if enough replicas confirmed them.
    private func replicasReplied(_ node: StoreNode, _ reply: RedisReply?) {
        node.callsInFlight -= 1
        let confirmed = (reply?.integer ?? 0) >= Int64(replicasToAck)
        if !confirmed { stats.replicasFellShort() }
        // Taken out first: answering may send new calls (batching off), which wait for a new WAIT.
        swap(&node.awaitingReplicas, &node.replicasAnswered)
        for first in node.replicasAnswered {
            if verdictsRead[first] {
                verdictsRead[first] = false
                settleGroup(first, confirmed: confirmed) { _, entry, _ in verdicts[entry] }
            } else {
                node.awaitingReplicas.append(first)  // resent after a NOSCRIPT: the WAIT sent after it answers it
            }
        }
        node.replicasAnswered.removeAll(keepingCapacity: true)
    }

    func resolveUnknownVotes() {
        let lookups = unresolved
        unresolved = []
        for (shard, voterID, voter) in lookups {
            call(bytes: [Array("HGET".utf8), Array(KeySchema.ballots(shard).utf8), voterID]) { [unowned self] reply in
                guard let reply else { return unresolved.append((shard, voterID, voter)) }
                guard let stored = VerdictText.ballot(reply) else { return }
                reader.adopt(poll: shard.poll, voter: voter, stored: stored)
            }
        }
    }

    private func replied(_ node: StoreNode, _ tag: UInt64, _ reply: RedisReply?) {
        if tag == LoopStore.waitTag { return replicasReplied(node, reply) }
        if tag == LoopStore.askingTag { return }
        if tag & LoopStore.callTagBit != 0 {
            calls.removeValue(forKey: tag)?(reply)
            return
        }
        node.callsInFlight -= 1
        let first = Int(tag & ~LoopStore.sourceTagBit)
        // No reply: Redis may still run the call, until its deadline.
        guard let reply else { return hold(first, lookUpAt: deadlines[first]) }
        stats.roundTrip.observe(microseconds: Int64((uv_hrtime() - sentAt[first]) / 1_000))
        guard reply.isArray, reply.count >= 2 else {
            if replicasToAck > 0 { node.awaitingReplicas.removeAll { $0 == first } }
            // Redis lost the script (restarted without it, SCRIPT FLUSH): nothing of the call ran,
            // so the same votes go again, once, with the source. Later batches wait for them, so a
            // voter's votes still reach Redis in order.
            if reply.hasPrefix("NOSCRIPT"), tag & LoopStore.sourceTagBit == 0, resend(first, to: node, withSource: true) { return }
            // A cluster node that ran nothing of it: elsewhere, or later.
            if refused(first, reply) { return }
            // An error instead of verdicts (out of memory, …): Redis has answered, so it runs
            // nothing of the call later; what it stored is looked up at once.
            return hold(first, lookUpAt: uv_now(loop))
        }
        // Redis' time, then the poll shard's tallies after this call, before any answer goes out:
        // whoever reads results next, on any loop of this daemon, sees these votes (and every
        // other daemon's so far).
        if let now = reply[reply.count - 1].integer { node.clock.observe(redisMicroseconds: now) }
        VerdictText.tallies(reply[reply.count - 2]) { version, voters, count in
            let shard = batches[first].shard
            reader.recordStoredTallies(poll: shard.poll, storeShard: Int(shard.index), version: version, voters: voters, count: count)
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
                unresolved.append((vote.shard, Array(batches.voterID(current)), vote.voter))
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

    static let callTagBit: UInt64 = 1 << 63
    /// Marks a vote-script call sent with its source after a NOSCRIPT.
    private static let sourceTagBit: UInt64 = 1 << 62
    /// The `WAIT` after a flush's script calls (`replicasToAck`).
    private static let waitTag: UInt64 = 1 << 61
    /// The `ASKING` before a command a cluster node redirected with `ASK`.
    static let askingTag: UInt64 = 1 << 60

    /// Every 20 ms while calls are held or parked: sends the parked again, looks up the held.
    func tick() {
        sendParked()
        resolveHeld()
        if held.isEmpty && parked.isEmpty {
            ticking = false
            uv_timer_stop(tickTimer)
        }
    }

    func startTicking() {
        guard !ticking else { return }
        ticking = true
        uv_timer_start(tickTimer, onTick, 20, 20)
    }

    private func stop() {
        uv_close(UnsafeMutablePointer<uv_handle_t>(OpaquePointer(flushCheck)), nil)
        uv_close(UnsafeMutablePointer<uv_handle_t>(OpaquePointer(tickTimer)), nil)
        for node in nodes { node.redis.stop() }
    }
}

private func onTick(_ timer: UnsafeMutablePointer<uv_timer_t>?) {
    Unmanaged<LoopStore>.fromOpaque(timer!.pointee.data!).takeUnretainedValue().tick()
}

/// Where a loop's votes go: one Redis, or a Redis Cluster as its slot map says at start.
public enum StoreTarget {
    /// "host:port".
    case single(String)
    case cluster(SlotMap)
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
