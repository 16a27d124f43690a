import Testing

@testable import TallyCore

/// The vote path's poll lookup: every poll of a snapshot is found as itself, anything else is not,
/// whatever the ids (from one counter, or scattered over 64 bits, so that many collide).
@Suite struct PollIndexTests {
    private func polls(_ ids: [PollID]) -> [PollID: Poll] {
        let registry = PollRegistry(shardCount: 1, readers: 1)
        var polls: [PollID: Poll] = [:]
        for id in ids { polls[id] = try! registry.install(id: id, definition: PollDefinition(question: "q\(id)", options: ["a", "b"]), lifecycle: .open) }
        return polls
    }

    @Test(arguments: ["from a counter", "differing in their top bits only", "random"])
    func findsEveryPollAndNothingElse(idsThatAre kind: String) {
        let ids: [PollID] =
            switch kind {
            case "from a counter": Array(1...1_000)
            case "differing in their top bits only": (0..<1_000).map { PollID($0) << 54 }
            default: (0..<1_000).map { _ in PollID.random(in: 1...PollID.max) }
            }
        let polls = polls(ids)
        let index = PollIndex(polls)
        defer { index.deallocate() }
        for (id, poll) in polls { #expect(index[id]?.takeUnretainedValue() === poll) }
        var strangers = 0
        while strangers < 1_000 {
            let id = PollID.random(in: 0...PollID.max)
            guard polls[id] == nil else { continue }
            #expect(index[id] == nil)
            strangers += 1
        }
    }

    @Test func anEmptySnapshotFindsNothing() {
        let index = PollIndex([:])
        defer { index.deallocate() }
        #expect(index[1] == nil)
        #expect(index[0] == nil)
    }

    @Test func aReaderSeesPollsComeAndGo() throws {
        let registry = PollRegistry(shardCount: 1, readers: 1)
        let reader = registry.reader(0)
        for id in PollID(1)...40 { _ = try registry.install(id: id, definition: PollDefinition(question: "q", options: ["a", "b"]), lifecycle: .open) }
        for id in stride(from: PollID(2), through: 40, by: 2) { registry.forget(id) }
        for id in PollID(1)...41 {
            var input = BallotInput()
            input.add(0)
            let outcome = reader.vote(input, poll: id, by: VoterKey(id: "v"), now: 0, counting: true)
            if id % 2 == 1 && id <= 40 {
                #expect(outcome == .accepted(previous: .empty, current: Ballot(mask: 1)))
            } else {
                #expect(outcome == .rejected(.unknownPoll))
            }
        }
    }
}
