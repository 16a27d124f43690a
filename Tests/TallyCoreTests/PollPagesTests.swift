import Testing

@testable import TallyCore

/// The registry's pages of 256 ids and the readers' slots: every poll is found as itself by every
/// reader, across page and chunk boundaries, and a change reaches a reader the next time it looks.
@Suite struct PollPagesTests {
    let definition = PollDefinition(question: "q", options: ["a", "b"])

    @Test func everyReaderFindsEveryPollAndNothingElse() throws {
        let registry = PollRegistry(shardCount: 2, readers: 3)
        let readers = (0..<3).map { registry.reader($0) }
        // Page and chunk edges (a chunk is 65 536 ids), and the last id with a slot.
        let ids: [PollID] = [1, 2, 255, 256, 257, 65_535, 65_536, 65_537, 1 << 32, PageSlots.maxPollID]
        let polls = try ids.map { try registry.install(id: $0, definition: definition, lifecycle: .open) }
        for reader in readers {
            for (id, poll) in zip(ids, polls) { #expect(reader.poll(id) === poll && registry.poll(id) === poll, "\(id)") }
            for stranger: PollID in [0, 3, 254, 258, 65_534, 65_538, (1 << 32) + 1, PageSlots.maxPollID + 1, .max] {
                #expect(reader.poll(stranger) == nil && registry.poll(stranger) == nil, "\(stranger)")
            }
        }
        #expect(registry.ids == ids && registry.count == ids.count)
    }

    @Test func idsWithoutASlotAreRefused() {
        let registry = PollRegistry(shardCount: 1, readers: 1)
        for id: PollID in [0, PageSlots.maxPollID + 1] {
            #expect(throws: PollAdminError.self) { try registry.install(id: id, definition: definition, lifecycle: .open) }
        }
    }

    @Test func aReaderSeesPollsComeChangeAndGo() throws {
        let registry = PollRegistry(shardCount: 1, readers: 1)
        let reader = registry.reader(0)
        #expect(reader.poll(1) == nil, "no page yet")
        for id in PollID(1)...600 { try registry.install(id: id, definition: definition, lifecycle: .open) }
        #expect(reader.poll(300) != nil)
        for id in stride(from: PollID(2), through: 600, by: 2) { registry.forget(id) }
        for id in PollID(1)...601 {
            var input = BallotInput()
            input.add(0)
            let outcome = reader.vote(input, poll: id, by: VoterKey(id: "v"), now: 0, counting: true)
            #expect(outcome == (id % 2 == 1 && id <= 600 ? .accepted(previous: .empty, current: Ballot(mask: 1)) : .rejected(.unknownPoll)), "\(id)")
        }
        let renamed = try registry.install(id: 3, definition: PollDefinition(question: "renamed", options: ["a", "b"]), lifecycle: .open)
        #expect(reader.poll(3) === renamed && reader.poll(3)?.ballot(of: VoterKey(id: "v")) == Ballot(mask: 1), "a new definition keeps the ballots")
        for id in stride(from: PollID(1), through: 600, by: 2) { registry.forget(id) }
        #expect(reader.poll(1) == nil && registry.count == 0 && registry.ids.isEmpty)
        #expect(try registry.install(id: 1, definition: definition, lifecycle: .open) === reader.poll(1), "an emptied page fills again")
    }

    /// One page's polls change while a reader votes in another poll of it: the reader keeps voting
    /// (its page is swapped under it between lookups, never during one).
    @Test func aPageChangesWhileItsReaderVotes() async throws {
        let registry = PollRegistry(shardCount: 1, readers: 1)
        try registry.install(id: 10, definition: definition, lifecycle: .open)
        nonisolated(unsafe) let reader = registry.reader(0)
        let voting = Task.detached {
            var accepted = 0
            for voter in 0..<20_000 {
                var input = BallotInput()
                input.add(voter % 2)
                if case .accepted = reader.vote(input, poll: 10, by: VoterKey(id: "v\(voter)"), now: 0, counting: true) { accepted += 1 }
            }
            return accepted
        }
        for round in 0..<2_000 {
            let id = PollID(11 + round % 200)
            if round % 3 == 2 { registry.forget(id) } else { try registry.install(id: id, definition: definition, lifecycle: .open) }
        }
        #expect(await voting.value == 20_000)
        #expect(registry.poll(10)?.results(for: .organizer, now: 0).voters == 20_000)
    }
}

extension PollPagesTests {
    /// Poll sync's thread may install what it read from Redis after a loop installed a newer save
    /// (seen in CI: an organizer's `open` answered with the poll back in draft). The older
    /// revision changes nothing; the same revision still brings a close (the close worker's close
    /// raises none), but never reopens: only an organizer's reopen does, with a new revision.
    @Test func aStaleInstallChangesNothing() throws {
        let registry = PollRegistry(shardCount: 1, readers: 1)
        try registry.install(id: 7, definition: definition, lifecycle: .draft, revision: 1)
        let opened = try registry.install(id: 7, definition: definition, lifecycle: .open, revision: 2)
        let stale = try registry.install(id: 7, definition: PollDefinition(question: "old", options: ["a", "b"]), lifecycle: .draft, revision: 1)
        #expect(stale === opened && opened.lifecycle == .open && opened.revision == 2 && registry.poll(7)?.definition.question == "q")
        try registry.install(id: 7, definition: definition, lifecycle: .closed, revision: 2)
        #expect(registry.poll(7)?.lifecycle == .closed)
        try registry.install(id: 7, definition: definition, lifecycle: .open, revision: 2)
        #expect(registry.poll(7)?.lifecycle == .closed, "an open read from before the close worker's close")
        try registry.install(id: 7, definition: definition, lifecycle: .open, revision: 3)
        #expect(registry.poll(7)?.lifecycle == .open, "reopened by an organizer")
    }
}
