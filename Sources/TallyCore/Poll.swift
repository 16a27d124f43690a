import Atomics
import Synchronization

/// A poll's lifecycle as organizers and the close worker set it. Passing `closesAt` also ends
/// voting, whether or not anyone has flipped the state yet.
public enum Lifecycle: Int, Sendable, CaseIterable {
    case draft, open, closed

    /// The one name of each state: in Redis (`{p:ID}:poll` `state`), the native API and /metrics.
    public var name: StaticString {
        switch self {
        case .draft: "draft"
        case .open: "open"
        case .closed: "closed"
        }
    }

    public init?(name: String) {
        guard let state = Lifecycle.allCases.first(where: { $0.name.description == name }) else { return nil }
        self = state
    }
}

/// What a vote did.
public enum VoteOutcome: Equatable, Sendable {
    /// The ballot changed: a first vote, a revote, or a withdrawal (`current` empty). Counted.
    case accepted(previous: Ballot, current: Ballot)
    /// The voter already had exactly this ballot: success, counted once.
    case unchanged(Ballot)
    case rejected(VoteRejection)
}

/// One ballot box: an immutable definition over live state (lifecycle, ledger, counters) that every
/// version of the poll's definition shares.
public final class Poll: @unchecked Sendable {
    public let id: PollID
    public let definition: PollDefinition
    /// The revision of its definition and lifecycle that Redis last saved (see `PollVersion`).
    public let revision: Int64
    let live: LiveState
    private let organizerKey: VoterKey?
    /// Its shards in Redis, where its votes are stored.
    public let storeShards: PollShards

    /// The shard in Redis that holds `voter`'s ballot (the vote path: read in place, no copy of
    /// `storeShards`).
    @inline(__always)
    public func storeShard(of voter: VoterKey) -> PollShard { storeShards.of(voter) }

    /// The mutable part of a poll, shared by all versions of its definition.
    final class LiveState: @unchecked Sendable {
        let lifecycle: Atomic<Int>
        let ledger: Ledger
        let optionCount: Int
        /// Counter shards: one per event loop that votes.
        let shardCount: Int
        /// The poll's shards in Redis (`PollShards`), each with its own stored tallies.
        let storeShardCount: Int
        /// The counts, made with the first vote counted.
        private let counters = OnFirstUse<OptionCounters>()
        /// The store's tallies (a slot per loop, and the results follower's after them), made when
        /// the store first reports any.
        private let stored = OnFirstUse<StoredTallies>()
        /// When results were last read (µs, to within `viewMarkGranularity`), or the poll closed or
        /// was loaded back: the results follower keeps viewed polls fresh, and closed polls unread
        /// for a while leave memory (`PollRegistry.drop`).
        let lastViewed = Atomic<Int64>(0)

        init(lifecycle: Lifecycle, optionCount: Int, shardCount: Int, storeShardCount: Int = 1, ledger: Ledger) {
            self.storeShardCount = storeShardCount
            self.lifecycle = Atomic(lifecycle.rawValue)
            self.ledger = ledger
            self.optionCount = optionCount
            self.shardCount = shardCount
        }

        // The poll reaches the ledger and the counters through these, unretained (this object
        // holds them): Swift otherwise retains and releases each around the call, which measured
        // a fifth of the engine's time per vote.

        /// `ledger.record(for:create:)`.
        @inline(__always)
        func record(for voter: VoterKey, create: Bool) -> UnsafeAtomic<UInt64>? {
            Unmanaged.passUnretained(ledger)._withUnsafeGuaranteedRef { $0.record(for: voter, create: create) }
        }

        /// `counters.apply(shard:from:to:)`.
        @inline(__always)
        func count(shard: Int, from previous: Ballot, to current: Ballot) {
            counters.get { OptionCounters(optionCount: optionCount, shardCount: shardCount) }
                ._withUnsafeGuaranteedRef { $0.apply(shard: shard, from: previous, to: current) }
        }

        /// The counts: votes per option and voters with a ballot (zeros before the first vote).
        func counts(into counts: inout InlineArray<64, Int64>) -> Int64 {
            guard let counters = counters.existing() else { return 0 }
            return counters._withUnsafeGuaranteedRef { counters in
                for option in 0..<optionCount { counts[option] = counters.count(of: option) }
                return counters.voters
            }
        }

        /// `StoredTallies.record`, for the tallies' slot `slot`.
        func recordStored(slot: Int, storeShard: Int, version: Int64, voters: Int64, count: (Int) -> Int64) {
            stored.get { StoredTallies(optionCount: optionCount, slotCount: shardCount + 1, shardCount: storeShardCount) }
                ._withUnsafeGuaranteedRef { $0.record(slot: slot, shard: storeShard, version: version, voters: voters, count: count) }
        }

        /// `StoredTallies.newest`; nil before the store reported any.
        func newestStored(into counts: inout InlineArray<64, Int64>) -> (version: Int64, voters: Int64)? {
            stored.existing()?._withUnsafeGuaranteedRef { $0.newest(into: &counts) }
        }
    }

    init(id: PollID, definition: PollDefinition, live: LiveState, revision: Int64 = 0) {
        self.id = id
        self.revision = revision
        self.definition = definition
        self.live = live
        organizerKey = definition.organizer.map { VoterKey(id: $0) }
        storeShards = PollShards(poll: id, count: max(definition.shards, 1))
    }

    public var lifecycle: Lifecycle { Lifecycle(rawValue: live.lifecycle.load(ordering: .acquiring))! }

    /// The version an organizer's change to it now is based on.
    public var version: PollVersion { PollVersion(revision: revision, state: lifecycle) }

    /// Sets the lifecycle to what the system of record says.
    func setLifecycle(_ lifecycle: Lifecycle) {
        let previous = live.lifecycle.exchange(lifecycle.rawValue, ordering: .acquiringAndReleasing)
        if lifecycle == .closed && previous != lifecycle.rawValue { markRead(at: WallClock.now()) }
    }

    /// Moves the lifecycle `from` → `to` atomically; nil on success, else the state found.
    func transition(from: Lifecycle, to: Lifecycle) -> Lifecycle? {
        let (exchanged, found) = live.lifecycle.compareExchange(
            expected: from.rawValue, desired: to.rawValue, ordering: .acquiringAndReleasing)
        if exchanged && to == .closed { markRead(at: WallClock.now()) }
        return exchanged ? nil : Lifecycle(rawValue: found)!
    }

    /// Closed by an organizer or the close worker, or past an end date that closes it.
    public func isClosed(at now: Timestamp) -> Bool {
        if lifecycle == .closed { return true }
        if let deadline = definition.rules.deadline { return now >= deadline }
        return false
    }

    /// Whether `token` opens this poll: always for a public poll; for a private one, only the right
    /// token. Nil when admitted, else the reason.
    public func checkToken(_ token: PollToken?) -> VoteRejection? {
        guard let required = definition.rules.token else { return nil }
        guard let token else { return .tokenRequired }
        return required.matches(token) ? nil : .tokenInvalid
    }

    /// Validates a ballot against the rules and records it. Lock-free and allocation-free.
    /// - Parameters:
    ///   - shard: the calling event loop's counter shard; one thread per shard.
    ///   - counting: move the counters now. A daemon that writes through to Redis passes false and
    ///     counts what Redis confirms (`settle`), so results never show a vote that is not stored.
    @inline(__always)
    public func vote(
        _ input: BallotInput, by voter: VoterKey, token: PollToken? = nil, now: Timestamp, shard: Int, counting: Bool
    ) -> VoteOutcome {
        precondition(shard >= 0 && shard < live.shardCount, "vote from a thread without a counter shard")
        let rules = definition.rules
        if let refused = checkToken(token) { return .rejected(refused) }
        let lifecycle = lifecycle
        if lifecycle == .draft { return .rejected(.notOpenYet) }
        // The end date before the state: voters get one answer whether or not the close worker has
        // flipped the state yet.
        if let deadline = rules.deadline, now >= deadline { return .rejected(.expired) }
        if lifecycle == .closed { return .rejected(.closed) }

        let ballot = input.ballot
        if input.hasOutOfRange || ballot.mask >> UInt64(definition.options.count) != 0 {
            return .rejected(.optionOutOfRange)
        }
        if input.hasDuplicate { return .rejected(.duplicateOption) }
        if ballot.isEmpty && !rules.revote { return .rejected(.emptyBallot) }
        if ballot.count > definition.ballotLimit { return .rejected(.tooManyOptions) }

        guard let record = live.record(for: voter, create: !ballot.isEmpty) else {
            // An empty ballot from a voter with no record clears nothing.
            return ballot.isEmpty ? .unchanged(.empty) : .rejected(.ledgerFull)
        }
        var previous = record.load(ordering: .acquiring)
        while true {
            let desired: UInt64
            if input.adds {
                if previous & ballot.mask != 0 || (previous != 0 && definition.ballotLimit == 1) { return .rejected(.alreadyVoted) }
                desired = previous | ballot.mask
                if desired.nonzeroBitCount > definition.ballotLimit { return .rejected(.tooManyOptions) }
            } else {
                if previous == ballot.mask { return .unchanged(ballot) }
                if previous != 0 && !rules.revote { return .rejected(.alreadyVoted) }
                desired = ballot.mask
            }
            let (exchanged, found) = record.compareExchange(expected: previous, desired: desired, ordering: .acquiringAndReleasing)
            if exchanged {
                if counting { live.count(shard: shard, from: Ballot(mask: previous), to: Ballot(mask: desired)) }
                return .accepted(previous: Ballot(mask: previous), current: Ballot(mask: desired))
            }
            previous = found
        }
    }

    /// Applies the store's verdict on a vote this poll recorded (uncounted) as `previous` → `current`:
    /// counts what the store applied, or puts the voter's record back if the store refused it or
    /// its fate is unknown. The store is the authority: its `previous` may differ from ours when
    /// the voter also voted through another daemon. `added`: the options of a vote that adds to the
    /// ballot (`BallotInput.adds`), which the store added to its own previous ballot.
    public func settle(voter: VoterKey, previous: Ballot, current: Ballot, added: Ballot, verdict: StoredVerdict, shard: Int) {
        switch verdict {
        case .accepted(let storedPrevious):
            let stored = added.isEmpty ? current : Ballot(mask: storedPrevious.mask | added.mask)
            live.count(shard: shard, from: storedPrevious, to: stored)
            if stored != current, let record = live.record(for: voter, create: false) {
                _ = record.compareExchange(expected: current.mask, desired: stored.mask, ordering: .acquiringAndReleasing)
            }
        case .unchanged:
            break
        case .rejected, .notStored, .unknown:
            guard previous != current, let record = live.record(for: voter, create: false) else { return }
            _ = record.compareExchange(expected: current.mask, desired: previous.mask, ordering: .acquiringAndReleasing)
        }
    }

    /// Takes the store's word for a voter's ballot after a vote's fate was unknown: the record
    /// becomes `stored`, and the counts move by the difference.
    public func adopt(voter: VoterKey, stored: Ballot, shard: Int) {
        guard let record = live.record(for: voter, create: !stored.isEmpty) else { return }
        let old = Ballot(mask: record.exchange(stored.mask, ordering: .acquiringAndReleasing))
        live.count(shard: shard, from: old, to: stored)
    }

    /// Loads a stored ballot (recovery on start): the record and the counts, before any vote.
    public func restore(voter: VoterKey, ballot: Ballot) -> Bool {
        guard let record = live.record(for: voter, create: true) else { return false }
        let previous = Ballot(mask: record.exchange(ballot.mask, ordering: .acquiringAndReleasing))
        live.count(shard: 0, from: previous, to: ballot)
        return true
    }

    /// Records the tallies the store reported for one of its shards in Redis (`storeShard`, an
    /// index into `storeShards`) at `version` (it grows with every change there), so that results
    /// include votes stored through other daemons. `slot`: the loop's shard, or `followerSlot` for
    /// the thread that refreshes viewed polls.
    public func recordStoredTallies(storeShard: Int = 0, version: Int64, voters: Int64, slot: Int, count: (Int) -> Int64) {
        guard storeShard >= 0 && storeShard < live.storeShardCount else { return }
        live.recordStored(slot: slot, storeShard: storeShard, version: version, voters: voters, count: count)
    }

    /// The slot of the results follower in `recordStoredTallies`.
    public var followerSlot: Int { live.shardCount }

    /// Whether results were read at `since` or later (to within `viewMarkGranularity`), or the
    /// poll closed or was loaded back then (`markRead`).
    public func wasViewed(since: Timestamp) -> Bool { live.lastViewed.load(ordering: .relaxed) >= since }

    /// Counts as read at `now`: a poll just closed or loaded back from Redis is kept in memory
    /// (`PollRegistry.drop`) as long as one just read.
    public func markRead(at now: Timestamp) {
        if now - live.lastViewed.load(ordering: .relaxed) >= Poll.viewMarkGranularity { live.lastViewed.store(now, ordering: .relaxed) }
    }

    /// Readers mark a poll viewed at most this often (µs), so a hot poll's readers on many loops
    /// do not all write the same cache line.
    static let viewMarkGranularity: Timestamp = 100_000

    /// Whether this daemon has a record of the voter in this poll (a ballot, or one withdrawn):
    /// without one, the voter may still have voted through another daemon.
    public func knowsBallot(of voter: VoterKey) -> Bool { live.record(for: voter, create: false) != nil }

    /// The voter's current ballot (empty if none).
    public func ballot(of voter: VoterKey) -> Ballot {
        guard let record = live.record(for: voter, create: false) else { return .empty }
        return Ballot(mask: record.load(ordering: .acquiring))
    }

    /// Whether `viewer` sees what organizers see.
    public func isOrganizer(_ viewer: Viewer) -> Bool {
        viewer.isOrganizer || (viewer.voter != nil && viewer.voter == organizerKey)
    }

    /// The results as `viewer` may see them now.
    public func results(for viewer: Viewer, now: Timestamp) -> ResultsView {
        markRead(at: now)
        let closed = isClosed(at: now)
        let own = viewer.voter.map { ballot(of: $0) } ?? .empty
        let organizer = isOrganizer(viewer)
        let showsResults = showsResults(to: viewer, own: own, ended: closed || isPastEndDate(now))
        // The store's newest tallies (every daemon's votes); this daemon's own counts until the
        // store has reported any. Every vote this daemon acknowledged is in both.
        var counts = InlineArray<64, Int64>(repeating: 0)
        let voters: Int64
        if let stored = live.newestStored(into: &counts) {
            voters = stored.voters
        } else {
            voters = live.counts(into: &counts)
        }
        return ResultsView(
            optionCount: live.optionCount, counts: counts, voters: voters, isClosed: closed, ownBallot: own,
            showsResults: showsResults, showsCounts: showsResults && (organizer || !definition.rules.hideCounts))
    }

    /// Whether `viewer` may see results now (the visibility rules; `results` applies them).
    public func showsResults(to viewer: Viewer, now: Timestamp) -> Bool {
        showsResults(to: viewer, own: viewer.voter.map { ballot(of: $0) } ?? .empty, ended: isClosed(at: now) || isPastEndDate(now))
    }

    /// `ended`: closed, or past an end date (one that does not close the poll still ends the
    /// wait for results: a content poll's end date shown while votes go on).
    private func showsResults(to viewer: Viewer, own: Ballot, ended: Bool) -> Bool {
        if isOrganizer(viewer) { return true }
        switch definition.rules.visibility {
        case .always: return true
        case .afterVote: return ended || !own.isEmpty
        case .afterClose: return ended
        case .organizerOnly: return false
        }
    }

    private func isPastEndDate(_ now: Timestamp) -> Bool { definition.rules.closesAt.map { now >= $0 } ?? false }

    /// Record count and bytes of this poll's ledger.
    public var ledgerFootprint: (records: Int, slots: Int, bytes: Int) { live.ledger.footprint }
}

/// Who is looking at results.
public struct Viewer: Sendable {
    /// The voter, if the request carried one.
    public var voter: VoterKey?
    /// An organizer's credential (admin token, or a dialect's moderator role).
    public var isOrganizer: Bool

    public init(voter: VoterKey? = nil, isOrganizer: Bool = false) {
        self.voter = voter
        self.isOrganizer = isOrganizer
    }

    public static let anonymous = Viewer()
    public static let organizer = Viewer(isOrganizer: true)
}
