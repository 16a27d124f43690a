import Synchronization

/// The set of polls, in immutable pages of 256 ids (`PollPage`) that organizers' calls replace.
///
/// Readers (each event loop, the close worker) never take a lock: a change builds a new page
/// under a mutex (admin path only) and posts it to every reader (`PageSlots`); a reader picks it up
/// the next time it looks up a poll of that page. A change copies one page, so it costs the same
/// with ten polls or a million.
public final class PollRegistry: @unchecked Sendable {
    /// Counter shards per poll: one per event loop that votes.
    public let shardCount: Int
    let slots: PageSlots
    /// The writers' view: the newest page of each page number that has polls, and the polls let go of.
    private let state = Mutex(Held())
    private let observers = Mutex<[@Sendable (PollID) -> Void]>([])

    /// - Parameters:
    ///   - shardCount: event loops that vote (each votes into its own counter shard).
    ///   - readers: threads that look polls up through a `RegistryReader` (loops, close worker).
    public init(shardCount: Int, readers: Int) {
        precondition(shardCount > 0 && readers > 0)
        self.shardCount = shardCount
        slots = PageSlots(readers: readers)
    }

    /// The lock-free view for reader `index` (0 ..< readers). One thread per reader.
    public func reader(_ index: Int) -> RegistryReader {
        precondition(index >= 0 && index < slots.readers)
        return RegistryReader(registry: self, index: index)
    }

    private struct Held {
        var pages: [UInt64: PollPage] = [:]
        var dropped = DroppedPolls()
    }

    /// Admin path (takes the writers' mutex), as every call below. Nil also for a poll let go of
    /// (`drop`): Redis has it, `isDropped` says so.
    public func poll(_ id: PollID) -> Poll? {
        state.withLock { $0.pages[PollPage.number(of: id)]?.polls[Int(id & 0xFF)] }
    }

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
        guard let poll = poll(id) else { throw .unknownPoll }
        if let found = poll.transition(from: .open, to: .closed) { throw .invalidTransition(from: found, action: "close") }
        notify(id)
    }

    /// Makes the poll `id` what the system of record says: created if new, else given this
    /// definition, lifecycle and revision (see `PollVersion`) with its ballots kept (recreated
    /// empty if its options changed). A revision older than the one held, or an open poll at the
    /// revision of a closed one, is a stale read: ignored.
    @discardableResult
    public func install(id: PollID, definition: PollDefinition, lifecycle: Lifecycle, revision: Int64 = 0) throws(PollAdminError) -> Poll {
        try install([(id, definition, lifecycle, revision)])[0]
    }

    /// `install` for many polls at once: one new page per page they touch (recovery loads
    /// thousands). A lifecycle-only change publishes no page at all.
    @discardableResult
    public func install(_ polls: [(id: PollID, definition: PollDefinition, lifecycle: Lifecycle, revision: Int64)]) throws(PollAdminError) -> [Poll] {
        for poll in polls {
            try poll.definition.validate()
            guard poll.id != 0 && poll.id <= PageSlots.maxPollID else { throw .invalidDefinition("poll ids go from 1 to 2^40 - 1") }
        }
        let installed: [Poll] = change { held, changed in
            polls.map { id, definition, lifecycle, revision in
                let number = PollPage.number(of: id)
                let existing = (changed[number] ?? held.pages[number]?.polls)?[Int(id & 0xFF)]
                // Read from Redis before a newer write was installed (poll sync's thread read it,
                // then an organizer's save on a loop went first): every organizer write raises the
                // revision, so an older one is stale and changes nothing, not even the lifecycle
                // of the poll that write's answer is about to show.
                if let existing, revision < existing.revision { return existing }
                // Within one revision Redis only ever closes a poll (the close worker's close raises none;
                // an organizer's reopen does): an open read at the revision of a closed poll is stale
                // too. (Revision 0: not read from Redis, e.g. the engine's own tests.)
                if let existing, revision > 0, revision == existing.revision, existing.lifecycle == .closed, lifecycle == .open {
                    return existing
                }
                // A poll's shards are fixed when it is created (a change that names none keeps them).
                if let existing, existing.definition.options.count == definition.options.count,
                    max(definition.shards, 1) == existing.live.storeShardCount
                {
                    existing.setLifecycle(lifecycle)
                    if existing.definition == definition && existing.revision == revision { return existing }
                    return replace(id, with: Poll(id: id, definition: definition, live: existing.live, revision: revision), &held, &changed)
                }
                return replace(id, with: newPoll(id, definition, lifecycle, revision), &held, &changed)
            }
        }
        for poll in polls { notify(poll.id) }
        return installed
    }

    /// Removes the poll if present (the system of record no longer has it).
    public func forget(_ id: PollID) {
        change { held, changed in
            held.dropped.remove(id)
            guard held.pages[PollPage.number(of: id)]?.polls[Int(id & 0xFF)] != nil else { return }
            _ = replace(id, with: nil, &held, &changed)
        }
        notify(id)
    }

    // MARK: - Letting closed polls go (memory follows the open polls, not the history)

    /// Lets go of every closed poll nobody read (`Poll.results`) since `since`, nor closed since:
    /// Redis keeps it whole, and a request that needs it loads it back (`install`). Returns how
    /// many were let go of.
    @discardableResult
    public func drop(closedAndUnreadSince since: Timestamp) -> Int {
        change { held, changed in
            var count = 0
            for page in held.pages.values {
                for case let poll? in page.polls where poll.lifecycle == .closed && !poll.wasViewed(since: since) {
                    _ = replace(poll.id, with: nil, &held, &changed)
                    held.dropped.insert(poll.id, LabelSignature(poll.definition))
                    count += 1
                }
            }
            return count
        }
    }

    /// Records polls Redis has, closed, that this daemon does not load (a start loads only the
    /// open ones), with their labels' signatures.
    public func markDropped(_ polls: [(id: PollID, labels: LabelSignature)]) {
        change { held, _ in
            for (id, labels) in polls where held.pages[PollPage.number(of: id)]?.polls[Int(id & 0xFF)] == nil {
                held.dropped.insert(id, labels)
            }
        }
    }

    /// Whether the poll is one this daemon let go of (see `drop`).
    public func isDropped(_ id: PollID) -> Bool { state.withLock { $0.dropped.contains(id) } }

    /// How many polls this daemon let go of.
    public var droppedCount: Int { state.withLock { $0.dropped.count } }

    /// The ids of the polls this daemon let go of.
    public var droppedIDs: [PollID] { state.withLock { $0.dropped.ids } }

    /// The poll, if it is in `from`; else why the organizer's `action` does not apply.
    public func poll(_ id: PollID, in from: Lifecycle, for action: String) throws(PollAdminError) -> Poll {
        guard let poll = poll(id) else { throw .unknownPoll }
        guard poll.lifecycle == from else { throw .invalidTransition(from: poll.lifecycle, action: action) }
        return poll
    }

    // MARK: - Reading many (admin path: each visits every poll)

    /// How many polls there are in memory.
    public var count: Int { state.withLock { $0.pages.values.reduce(0) { $0 + $1.polls.count { $0 != nil } } } }

    /// Every poll's id in memory, in order.
    public var ids: [PollID] { polls { _ in true }.map(\.id) }

    /// The polls for which `include` is true, by id.
    public func polls(where include: (Poll) -> Bool) -> [Poll] {
        let pages = state.withLock { $0.pages }  // a copy of the page list; pages themselves are immutable
        return pages.keys.sorted().flatMap { number in pages[number]!.polls.compactMap { $0.flatMap { include($0) ? $0 : nil } } }
    }

    /// Polls whose results were read at `since` or later, in no particular order. The results
    /// follower asks four times a second, so the scan touches no reference count but the matches'.
    public func polls(viewedSince since: Timestamp) -> [Poll] {
        let pages = state.withLock { $0.pages }
        var viewed: [Poll] = []
        for page in pages.values { page.forEachPoll { if $0.wasViewed(since: since) { viewed.append($0) } } }
        return viewed
    }

    /// Polls in `lifecycle` (any if nil) whose labels include every pair of `labels`, by id; or,
    /// if some of them may be among the polls let go of, which to load first.
    public func list(lifecycle: Lifecycle? = nil, labels: [String: String] = [:]) -> PollListing {
        list(PollQuery(lifecycle: lifecycle, labels: labels))
    }

    /// The polls `query` matches with ids between `after` and `before` (both excluded), at most
    /// `limit` of them, oldest or newest first, and whether more follow; or, if some of them may
    /// be among the polls let go of, which to load first. Visits pages only as far as it needs.
    public func list(_ query: PollQuery, after: PollID = 0, before: PollID = .max, limit: Int = .max, newestFirst: Bool = false) -> PollListing {
        let (pages, dropped) = state.withLock { ($0.pages, $0.dropped) }
        let (low, high) = (PollPage.number(of: after), PollPage.number(of: before))
        var numbers = Set(pages.keys).union(dropped.pageNumbers).filter { $0 >= low && $0 <= high }.sorted()
        if newestFirst { numbers.reverse() }
        var found: [Poll] = []
        var toLoad: [PollID] = []
        for number in numbers {
            let polls = pages[number]?.polls
            for index in newestFirst ? Array((0..<PollPage.size).reversed()) : Array(0..<PollPage.size) {
                let id = number << 8 | PollID(index)
                guard id > after && id < before else { continue }
                if let poll = polls?[index] {
                    guard query.matches(poll) else { continue }
                    if found.count + toLoad.count == limit { return toLoad.isEmpty ? .polls(found, more: true) : .load(toLoad) }
                    found.append(poll)
                } else if let signature = dropped.signature(of: id), query.mayMatchDropped(signature) {
                    toLoad.append(id)
                    if found.count + toLoad.count > limit { return .load(toLoad) }
                }
            }
        }
        return toLoad.isEmpty ? .polls(found, more: false) : .load(toLoad)
    }

    // MARK: - Internals

    /// A poll with fresh live state (empty ledger, zero counts).
    private func newPoll(_ id: PollID, _ definition: PollDefinition, _ lifecycle: Lifecycle, _ revision: Int64) -> Poll {
        let live = Poll.LiveState(
            lifecycle: lifecycle, optionCount: definition.options.count, shardCount: shardCount,
            storeShardCount: max(definition.shards, 1), ledger: Ledger(expectedVoters: definition.expectedVoters))
        return Poll(id: id, definition: definition, live: live, revision: revision)
    }

    /// Runs `body` under the writers' mutex with what is held and the pages it changes (their
    /// polls by `id % 256`), then publishes the changed ones.
    private func change<Result>(_ body: (inout Held, inout [UInt64: [Poll?]]) -> Result) -> Result {
        state.withLock { held in
            var changed: [UInt64: [Poll?]] = [:]
            let result = body(&held, &changed)
            for (number, polls) in changed {
                let page = polls.contains { $0 != nil } ? PollPage(polls) : nil
                held.pages[number] = page
                slots.post(page ?? .empty, number: number)
            }
            return result
        }
    }

    /// Puts `poll` (nil: none) at `id` in the changed copy of its page; a poll put back is no
    /// longer a dropped one.
    private func replace(_ id: PollID, with poll: Poll?, _ held: inout Held, _ changed: inout [UInt64: [Poll?]]) -> Poll! {
        if poll != nil { held.dropped.remove(id) }
        let number = PollPage.number(of: id)
        var polls = changed[number] ?? held.pages[number]?.polls ?? PollPage.empty.polls
        polls[Int(id & 0xFF)] = poll
        changed[number] = polls
        return poll
    }

    private func notify(_ id: PollID) {
        for observer in observers.withLock({ $0 }) { observer(id) }
    }
}

/// What a listing found.
public enum PollListing {
    /// The polls, by id (for a page of a listing, whether more follow).
    case polls([Poll], more: Bool)
    /// Some polls it may include were let go of (`PollRegistry.drop`): load these from Redis
    /// (`install`) and list again.
    case load([PollID])
}

/// One thread's lock-free view of the registry: a lookup takes the poll's page from the thread's
/// own slot (one relaxed load, plus an exchange when organizers changed that page) and indexes it.
/// Not for sharing between threads.
public final class RegistryReader {
    private let registry: PollRegistry  // keeps the slots alive
    /// `registry.slots.directory`, held here so a lookup touches no reference count.
    private let directory: UnsafeMutableRawPointer
    private let index: Int
    /// The counter shard this reader votes into (-1 for readers that do not vote).
    public let shard: Int

    init(registry: PollRegistry, index: Int) {
        self.registry = registry
        directory = UnsafeMutableRawPointer(registry.slots.directory)
        self.index = index
        shard = index < registry.shardCount ? index : -1
    }

    /// The poll, unretained: valid until this reader looks up another poll of the same page.
    @inline(__always)
    private func lookUp(_ id: PollID) -> Unmanaged<Poll>? {
        PageSlots.page(PollPage.number(of: id), reader: index, in: directory)?._withUnsafeGuaranteedRef { $0.poll(id) }
    }

    public func poll(_ id: PollID) -> Poll? { lookUp(id)?.takeUnretainedValue() }

    /// Takes every page the registry posted to this reader, so the polls deleted or let go of on
    /// pages it does not look at any more are freed (each loop does this on its sweep).
    public func takePostedPages() { registry.slots.takePosted(reader: index) }

    /// Looks the poll up and votes, without touching any reference count.
    public func vote(
        _ input: BallotInput, poll id: PollID, by voter: VoterKey, token: PollToken? = nil, now: Timestamp, counting: Bool
    ) -> VoteOutcome {
        guard let poll = lookUp(id) else { return .rejected(.unknownPoll) }
        return poll._withUnsafeGuaranteedRef {
            $0.vote(input, by: voter, token: token, now: now, shard: shard, counting: counting)
        }
    }

    /// Runs `body` with the poll borrowed (no reference count touched; valid only during the call),
    /// or with nil if there is none: the vote path's one lookup.
    public func withPoll(_ id: PollID, _ body: (Poll?) -> Void) {
        guard let poll = lookUp(id) else { return body(nil) }
        poll._withUnsafeGuaranteedRef { body($0) }
    }

    /// The store's verdict on a vote recorded uncounted (see `Poll.settle`); nothing if the poll
    /// has been deleted meanwhile.
    public func settle(poll id: PollID, voter: VoterKey, previous: Ballot, current: Ballot, added: Ballot, verdict: StoredVerdict) {
        lookUp(id)?._withUnsafeGuaranteedRef {
            $0.settle(voter: voter, previous: previous, current: current, added: added, verdict: verdict, shard: shard)
        }
    }

    /// The store's word for a voter's ballot (see `Poll.adopt`).
    public func adopt(poll id: PollID, voter: VoterKey, stored: Ballot) {
        lookUp(id)?._withUnsafeGuaranteedRef { $0.adopt(voter: voter, stored: stored, shard: shard) }
    }

    /// The tallies the store reported with a batch's verdicts (see `Poll.recordStoredTallies`).
    public func recordStoredTallies(poll id: PollID, storeShard: Int = 0, version: Int64, voters: Int64, count: (Int) -> Int64) {
        lookUp(id)?._withUnsafeGuaranteedRef {
            $0.recordStoredTallies(storeShard: storeShard, version: version, voters: voters, slot: shard, count: count)
        }
    }
}
