import Testing

@testable import TallyCore

extension PollListing {
    /// The ids listed, or nil if the listing asks for polls to be loaded first.
    var heldIDs: [PollID]? {
        if case .polls(let polls, _) = self { return polls.map(\.id) }
        return nil
    }

    var toLoad: [PollID]? {
        if case .load(let ids) = self { return ids }
        return nil
    }
}

/// Closed polls leave memory (`PollRegistry.drop`) and listings still find them.
@Suite struct DroppedPollsTests {
    private func registry(_ polls: [(PollID, [String: String], Lifecycle)], organizer: String? = nil) throws -> PollRegistry {
        let registry = PollRegistry(shardCount: 1, readers: 1)
        for (id, labels, lifecycle) in polls {
            try registry.install(
                id: id, definition: PollDefinition(question: "Q", options: ["a", "b"], labels: labels, organizer: organizer), lifecycle: lifecycle)
        }
        return registry
    }

    @Test func onlyClosedPollsNobodyReadLeave() throws {
        let registry = try registry([(1, [:], .open), (2, [:], .open), (3, [:], .open), (4, [:], .draft), (5, [:], .closed)])
        let now = WallClock.now()
        try registry.close(2)
        try registry.close(3)
        // Closing counts as a read: of the closed polls only 5, installed closed and never read, leaves.
        #expect(registry.drop(closedAndUnreadSince: now - 1_000_000) == 1)
        #expect(registry.isDropped(5))
        _ = registry.poll(3)!.results(for: .anonymous, now: now + 5_000_000)
        #expect(registry.drop(closedAndUnreadSince: now + 1_000_000) == 1)
        #expect(registry.poll(2) == nil && registry.isDropped(2))
        #expect(registry.poll(1) != nil && registry.poll(3) != nil && registry.poll(4) != nil)
        #expect(registry.count == 3 && registry.droppedCount == 2 && registry.droppedIDs.sorted() == [2, 5])
        // The lock-free readers see it gone too.
        #expect(registry.reader(0).poll(2) == nil)
    }

    @Test func aPollPutBackOrForgottenIsNoLongerDropped() throws {
        let registry = try registry([(7, [:], .closed), (8, [:], .closed)])
        registry.drop(closedAndUnreadSince: .max)
        #expect(registry.droppedCount == 2)
        try registry.install(id: 7, definition: PollDefinition(question: "Q", options: ["a", "b"]), lifecycle: .closed)
        registry.forget(8)
        #expect(!registry.isDropped(7) && registry.poll(7) != nil)
        #expect(!registry.isDropped(8) && registry.droppedCount == 0)
    }

    @Test func listingsAskForTheDroppedPollsTheyMayInclude() throws {
        let registry = try registry([
            (1, ["room": "a"], .closed), (2, ["room": "b"], .closed), (3, ["room": "a"], .open), (300, ["room": "a"], .closed),
        ])
        registry.drop(closedAndUnreadSince: .max)
        #expect(registry.list(labels: ["room": "a"]).toLoad == [1, 300])
        #expect(registry.list(lifecycle: .open, labels: ["room": "a"]).heldIDs == [3], "dropped polls are closed")
        #expect(registry.list(labels: ["room": "c"]).heldIDs == [], "no candidate for a label nobody has (here)")
        // A page stops at its limit: the first two in id order, held or not.
        #expect(registry.list(PollQuery(), after: 0, limit: 2).toLoad == [1, 2])
        #expect(registry.list(PollQuery(), after: 2, limit: 1).toLoad == [300], "3 fills the page; the one after decides `more`")
        // Loaded back (as the loops do), they list like any other.
        for id: PollID in [1, 300] {
            try registry.install(id: id, definition: PollDefinition(question: "Q", options: ["a", "b"], labels: ["room": "a"]), lifecycle: .closed)
        }
        #expect(registry.list(labels: ["room": "a"]).heldIDs == [1, 3, 300])
        guard case .polls(let page, let more) = registry.list(PollQuery(labels: ["room": "a"]), after: 0, limit: 1) else { Issue.record("no page"); return }
        #expect(page.map(\.id) == [1] && more)
    }

    @Test func newestFirstByNameAndOrganizer() throws {
        let registry = try registry([(1, ["pnut.type": "x"], .closed), (2, [:], .closed), (3, ["pnut.type": "y"], .open)], organizer: "ann")
        try registry.install(id: 4, definition: PollDefinition(question: "Q", options: ["a"], labels: ["pnut.type": "x"], organizer: "bob"), lifecycle: .closed)
        registry.drop(closedAndUnreadSince: .max)
        let anns = PollQuery(labelNames: ["pnut.type"], organizer: "ann")
        #expect(registry.list(anns, newestFirst: true).toLoad == [1])
        try registry.install(id: 1, definition: PollDefinition(question: "Q", options: ["a", "b"], labels: ["pnut.type": "x"], organizer: "ann"), lifecycle: .closed)
        #expect(registry.list(anns, newestFirst: true).heldIDs == [3, 1])
        #expect(registry.list(anns, before: 3, newestFirst: true).heldIDs == [1])
    }

    @Test func signaturesNeverMissAMatch() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let labels = Dictionary(uniqueKeysWithValues: (0..<Int.random(in: 0...6, using: &random)).map { ("k\($0)", "v\(Int.random(in: 0...9, using: &random))") })
            let poll = LabelSignature(labels: labels, organizer: "o\(Int.random(in: 0...3, using: &random))")
            let some = labels.filter { _ in Bool.random(using: &random) }
            #expect(poll.mayContain(LabelSignature(labels: some, labelNames: Array(labels.keys.prefix(1)))))
        }
        // The same in every process (Redis stores it): FNV-1a, not Swift's seeded Hasher.
        #expect(LabelSignature(labels: ["room": "a"]).bits == 4_398_249_934_848)
    }
}

/// A poll let go of is freed once every reader took the page without it, even if no reader looks
/// it up again (the loops take posted pages on every sweep).
@Suite struct PostedPagesTests {
    @Test func aDroppedPollIsFreedOnceReadersTakeTheirPages() throws {
        let registry = PollRegistry(shardCount: 2, readers: 2)
        let readers = [registry.reader(0), registry.reader(1)]
        weak var dropped: Poll?
        do {
            let poll = try registry.install(id: 70_000, definition: PollDefinition(question: "Q", options: ["a"]), lifecycle: .closed)
            dropped = poll
            for reader in readers { #expect(reader.poll(70_000) === poll) }
        }
        registry.drop(closedAndUnreadSince: .max)
        #expect(dropped != nil, "each reader still holds the page it took")
        readers[0].takePostedPages()
        #expect(dropped != nil)
        readers[1].takePostedPages()
        #expect(dropped == nil, "freed once both took the new page")
    }
}
