import Synchronization

/// The set of polls, as immutable snapshots that organizers' calls replace.
///
/// Readers (each event loop, the close worker) never take a lock: a change builds a new snapshot
/// under a mutex (admin path only) and posts it to every reader's mailbox (`SnapshotMailboxes`); a
/// reader picks it up the next time it looks a poll up.
public final class PollRegistry: @unchecked Sendable {
    /// Counter shards per poll: one per event loop that votes.
    public let shardCount: Int
    private let latest: Mutex<PollSnapshot>
    let mailboxes: SnapshotMailboxes
    private let observers = Mutex<[@Sendable (PollID) -> Void]>([])

    /// - Parameters:
    ///   - shardCount: event loops that vote (each votes into its own counter shard).
    ///   - readers: threads that look polls up through a `RegistryReader` (loops, close worker).
    public init(shardCount: Int, readers: Int) {
        precondition(shardCount > 0 && readers > 0)
        self.shardCount = shardCount
        latest = Mutex(PollSnapshot(polls: [:]))
        mailboxes = SnapshotMailboxes(count: readers)
    }

    /// The lock-free view for reader `index` (0 ..< readers). One thread per reader.
    public func reader(_ index: Int) -> RegistryReader {
        precondition(index >= 0 && index < mailboxes.count)
        return RegistryReader(registry: self, index: index, snapshot: snapshot)
    }

    /// The current snapshot (admin path: takes the writers' mutex).
    public var snapshot: PollSnapshot { latest.withLock { $0 } }

    public func poll(_ id: PollID) -> Poll? { snapshot.polls[id] }

    /// Calls `observer` with a poll's id after every change to that poll (created, changed,
    /// deleted, lifecycle moved), on the thread that made the change. The close worker follows end
    /// dates this way.
    public func onChange(_ observer: @escaping @Sendable (PollID) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    // MARK: - Changes: what Redis, the system of record, now holds (the desks after a write, poll
    // sync, recovery), and the close worker's close

    /// Open → closed. Idempotent callers (the close worker) treat `invalidTransition` from closed as done.
    public func close(_ id: PollID) throws(PollAdminError) {
        try transition(id, from: .open, to: .closed, action: "close")
    }

    /// Makes the poll `id` what the system of record says: created if new, else given this
    /// definition and lifecycle with its ballots kept (recreated empty if its options changed).
    @discardableResult
    public func install(id: PollID, definition: PollDefinition, lifecycle: Lifecycle) throws(PollAdminError) -> Poll {
        try install([(id, definition, lifecycle)])[0]
    }

    /// `install` for many polls at once: one new snapshot for all (recovery loads thousands).
    /// A lifecycle-only change publishes no snapshot at all.
    @discardableResult
    public func install(_ polls: [(id: PollID, definition: PollDefinition, lifecycle: Lifecycle)]) throws(PollAdminError) -> [Poll] {
        for poll in polls { try poll.definition.validate() }
        let installed: [Poll] = latest.withLock { snapshot in
            var changed = snapshot.polls
            var replaced = false
            let installed = polls.map { id, definition, lifecycle in
                if let current = changed[id], current.definition.options.count == definition.options.count {
                    current.setLifecycle(lifecycle)
                    if current.definition == definition { return current }
                    replaced = true
                    changed[id] = Poll(id: id, definition: definition, live: current.live)
                    return changed[id]!
                }
                replaced = true
                changed[id] = newPoll(id, definition, lifecycle)
                return changed[id]!
            }
            if replaced { publish(changed, into: &snapshot) }
            return installed
        }
        for poll in polls { notify(poll.id) }
        return installed
    }

    /// Removes the poll if present (the system of record no longer has it).
    public func forget(_ id: PollID) {
        change(id) { polls in _ = polls.removeValue(forKey: id) }
    }

    /// The poll, if it is in `from`; else why the organizer's `action` does not apply.
    public func poll(_ id: PollID, in from: Lifecycle, for action: String) throws(PollAdminError) -> Poll {
        guard let poll = poll(id) else { throw .unknownPoll }
        guard poll.lifecycle == from else { throw .invalidTransition(from: poll.lifecycle, action: action) }
        return poll
    }

    /// Polls whose results were read at `since` or later, in no particular order.
    public func polls(viewedSince since: Timestamp) -> [Poll] {
        snapshot.polls.values.filter { $0.wasViewed(since: since) }
    }

    /// Polls in `lifecycle` (any if nil) whose labels include every pair of `labels`.
    public func list(lifecycle: Lifecycle? = nil, labels: [String: String] = [:]) -> [Poll] {
        snapshot.polls.values
            .filter { poll in
                (lifecycle == nil || poll.lifecycle == lifecycle)
                    && labels.allSatisfy { poll.definition.labels[$0.key] == $0.value }
            }
            .sorted { $0.id < $1.id }
    }

    // MARK: - Internals

    private func transition(_ id: PollID, from: Lifecycle, to: Lifecycle, action: String) throws(PollAdminError) {
        guard let poll = poll(id) else { throw .unknownPoll }
        if let found = poll.transition(from: from, to: to) { throw .invalidTransition(from: found, action: action) }
        notify(id)
    }

    /// A poll with fresh live state (empty ledger, zero counts).
    private func newPoll(_ id: PollID, _ definition: PollDefinition, _ lifecycle: Lifecycle) -> Poll {
        let live = Poll.LiveState(
            lifecycle: lifecycle, optionCount: definition.options.count, shardCount: shardCount,
            ledger: Ledger(expectedVoters: definition.expectedVoters))
        return Poll(id: id, definition: definition, live: live)
    }

    /// Applies `body` to a copy of the polls under the writers' mutex, publishes the result, and
    /// tells observers that poll `id` changed.
    private func change(_ id: PollID, _ body: (inout [PollID: Poll]) -> Void) {
        latest.withLock { snapshot in
            var polls = snapshot.polls
            body(&polls)
            publish(polls, into: &snapshot)
        }
        notify(id)
    }

    /// Makes `polls` the snapshot every reader picks up next. Call with the writers' mutex held.
    private func publish(_ polls: [PollID: Poll], into snapshot: inout PollSnapshot) {
        snapshot = PollSnapshot(polls: polls)
        mailboxes.post(snapshot)
    }

    private func notify(_ id: PollID) {
        for observer in observers.withLock({ $0 }) { observer(id) }
    }

}

/// An immutable set of polls.
public final class PollSnapshot: Sendable {
    public let polls: [PollID: Poll]
    /// The same polls without reference counting, for the vote path: `polls` keeps them alive, and
    /// borrowing one costs no atomic increment on an object that every loop shares.
    nonisolated(unsafe) let unretained: PollIndex

    init(polls: [PollID: Poll]) {
        self.polls = polls
        unretained = PollIndex(polls)
    }

    deinit { unretained.deallocate() }
}

/// One thread's lock-free view of the registry: a lookup costs one atomic load of the thread's own
/// mailbox, plus an exchange when organizers changed something. Not for sharing between threads.
public final class RegistryReader {
    private let registry: PollRegistry  // keeps the mailbox alive
    private let mailbox: SnapshotMailboxes.Mailbox
    private var snapshot: PollSnapshot
    /// `snapshot.unretained` (`snapshot` keeps it alive), held here so a lookup touches no
    /// reference count.
    private var polls: PollIndex
    /// The counter shard this reader votes into (-1 for readers that do not vote).
    public let shard: Int

    init(registry: PollRegistry, index: Int, snapshot: PollSnapshot) {
        self.registry = registry
        mailbox = registry.mailboxes.mailbox(index)
        self.snapshot = snapshot
        polls = snapshot.unretained
        shard = index < registry.shardCount ? index : -1
    }

    public func poll(_ id: PollID) -> Poll? {
        refresh()
        return snapshot.polls[id]
    }

    /// Looks the poll up and votes, without touching any reference count.
    public func vote(
        _ input: BallotInput, poll id: PollID, by voter: VoterKey, token: PollToken? = nil, now: Timestamp, counting: Bool
    ) -> VoteOutcome {
        refresh()
        guard let poll = polls[id] else { return .rejected(.unknownPoll) }
        return poll._withUnsafeGuaranteedRef {
            $0.vote(input, by: voter, token: token, now: now, shard: shard, counting: counting)
        }
    }

    /// Runs `body` with the poll borrowed (no reference count touched; valid only during the call),
    /// or with nil if there is none: the vote path's one lookup.
    public func withPoll(_ id: PollID, _ body: (Poll?) -> Void) {
        refresh()
        guard let poll = polls[id] else { return body(nil) }
        poll._withUnsafeGuaranteedRef { body($0) }
    }

    /// The store's verdict on a vote recorded uncounted (see `Poll.settle`); nothing if the poll
    /// has been deleted meanwhile.
    public func settle(poll id: PollID, voter: VoterKey, previous: Ballot, current: Ballot, added: Ballot, verdict: StoredVerdict) {
        refresh()
        polls[id]?._withUnsafeGuaranteedRef {
            $0.settle(voter: voter, previous: previous, current: current, added: added, verdict: verdict, shard: shard)
        }
    }

    /// The store's word for a voter's ballot (see `Poll.adopt`).
    public func adopt(poll id: PollID, voter: VoterKey, stored: Ballot) {
        refresh()
        polls[id]?._withUnsafeGuaranteedRef { $0.adopt(voter: voter, stored: stored, shard: shard) }
    }

    /// The tallies the store reported with a batch's verdicts (see `Poll.recordStoredTallies`).
    public func recordStoredTallies(poll id: PollID, version: Int64, voters: Int64, count: (Int) -> Int64) {
        refresh()
        polls[id]?._withUnsafeGuaranteedRef { $0.recordStoredTallies(version: version, voters: voters, slot: shard, count: count) }
    }

    @inline(__always)
    private func refresh() {
        if let newer = mailbox.take() {
            // The index first: replacing the snapshot may free the old one's index.
            polls = newer.unretained
            snapshot = newer
        }
    }
}
