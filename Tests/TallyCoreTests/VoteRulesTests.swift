import Testing

@testable import TallyCore

/// One poll on a fresh registry with one loop, and helpers to vote on it.
struct Fixture {
    let registry = PollRegistry(shardCount: 1, readers: 1)
    let reader: RegistryReader
    let poll: Poll

    init(options: Int = 4, lifecycle: Lifecycle = .open, _ rules: PollRules = PollRules(), organizer: String? = nil) {
        poll = try! registry.install(
            id: 7,
            definition: PollDefinition(
                question: "Q", options: (0..<options).map { "option \($0)" }, rules: rules, organizer: organizer),
            lifecycle: lifecycle)
        reader = registry.reader(0)
    }

    /// The poll in `lifecycle`, as the daemon puts it there (after Redis has it).
    func set(_ lifecycle: Lifecycle) {
        try! registry.install(id: 7, definition: registry.poll(7)!.definition, lifecycle: lifecycle)
    }

    func vote(_ voter: String, _ options: [Int], token: PollToken? = nil, now: Timestamp = 1_000, poll id: PollID = 7)
        -> VoteOutcome
    {
        reader.vote(BallotInput(options), poll: id, by: VoterKey(id: voter), token: token, now: now, counting: true)
    }

    func counts(now: Timestamp = 1_000) -> [Int64] {
        let results = reader.poll(7)!.results(for: .organizer, now: now)
        return (0..<results.optionCount).map { results.count(of: $0) }
    }
}

@Suite struct VoteRulesTests {
    @Test func firstVoteIsAcceptedAndCounted() {
        let f = Fixture()
        #expect(f.vote("ann", [2]) == .accepted(previous: .empty, current: Ballot([2])))
        #expect(f.counts() == [0, 0, 1, 0])
        #expect(f.poll.ballot(of: VoterKey(id: "ann")) == Ballot([2]))
    }

    @Test func unknownPoll() {
        #expect(Fixture().vote("ann", [0], poll: 99) == .rejected(.unknownPoll))
    }

    @Test func draftIsNotOpenYet() {
        let f = Fixture(lifecycle: .draft)
        #expect(f.vote("ann", [0]) == .rejected(.notOpenYet))
        f.set(.open)
        #expect(f.vote("ann", [0]) == .accepted(previous: .empty, current: Ballot([0])))
    }

    @Test func closedPollRejectsAndReopenAcceptsAgain() throws {
        let f = Fixture()
        try f.registry.close(7)
        #expect(f.vote("ann", [0]) == .rejected(.closed))
        #expect(throws: PollAdminError.invalidTransition(from: .closed, action: "close")) { try f.registry.close(7) }
        f.set(.open)
        #expect(f.vote("ann", [0]) == .accepted(previous: .empty, current: Ballot([0])))
    }

    @Test func pastClosesAtIsExpiredEvenBeforeAnyCloseWorkerRuns() {
        let f = Fixture(PollRules(closesAt: 5_000))
        #expect(f.vote("ann", [0], now: 4_999) == .accepted(previous: .empty, current: Ballot([0])))
        #expect(f.vote("bob", [0], now: 5_000) == .rejected(.expired))
        #expect(f.poll.lifecycle == .open)
        #expect(f.poll.isClosed(at: 5_000))
    }

    @Test func endDateThatDoesNotCloseKeepsThePollOpen() {
        let f = Fixture(PollRules(closesAt: 5_000, closesOnEnd: false))
        #expect(f.vote("ann", [0], now: 9_000) == .accepted(previous: .empty, current: Ballot([0])))
        #expect(!f.poll.isClosed(at: 9_000))
    }

    @Test func optionOutOfRange() {
        let f = Fixture(options: 4)
        #expect(f.vote("ann", [4]) == .rejected(.optionOutOfRange))
        #expect(f.vote("ann", [-1]) == .rejected(.optionOutOfRange))
        #expect(f.vote("ann", [64]) == .rejected(.optionOutOfRange))
        #expect(f.counts() == [0, 0, 0, 0])
    }

    @Test func duplicateOption() {
        let f = Fixture(PollRules(maxVotes: 0))
        #expect(f.vote("ann", [1, 1]) == .rejected(.duplicateOption))
    }

    @Test func tooManyOptions() {
        let f = Fixture(PollRules(maxVotes: 2))
        #expect(f.vote("ann", [0, 1, 2]) == .rejected(.tooManyOptions))
        #expect(f.vote("ann", [0, 2]) == .accepted(previous: .empty, current: Ballot([0, 2])))
    }

    @Test func maxVotesZeroAllowsEveryOption() {
        let f = Fixture(options: 64, PollRules(maxVotes: 0))
        #expect(f.vote("ann", Array(0..<64)) == .accepted(previous: .empty, current: Ballot(mask: .max)))
        #expect(f.counts().allSatisfy { $0 == 1 })
    }

    @Test func emptyBallotIsRejectedWithoutRevote() {
        let f = Fixture()
        #expect(f.vote("ann", []) == .rejected(.emptyBallot))
    }

    @Test func alreadyVotedWithoutRevoteButIdenticalResendIsIdempotent() {
        let f = Fixture()
        #expect(f.vote("ann", [1]) == .accepted(previous: .empty, current: Ballot([1])))
        #expect(f.vote("ann", [1]) == .unchanged(Ballot([1])))
        #expect(f.vote("ann", [2]) == .rejected(.alreadyVoted))
        #expect(f.counts() == [0, 1, 0, 0])
    }

    @Test func revoteMovesTheCountsAndEmptyBallotClears() {
        let f = Fixture(PollRules(maxVotes: 2, revote: true))
        #expect(f.vote("ann", [0, 1]) == .accepted(previous: .empty, current: Ballot([0, 1])))
        #expect(f.vote("ann", [1, 3]) == .accepted(previous: Ballot([0, 1]), current: Ballot([1, 3])))
        #expect(f.counts() == [0, 1, 0, 1])
        #expect(f.vote("ann", []) == .accepted(previous: Ballot([1, 3]), current: .empty))
        #expect(f.counts() == [0, 0, 0, 0])
        #expect(f.poll.results(for: .organizer, now: 0).voters == 0)
        // Clearing nothing is a no-op success, and creates no record.
        #expect(f.vote("bob", []) == .unchanged(.empty))
        #expect(f.poll.ledgerFootprint.records == 1)
    }

    /// Mastodon's rule: each vote adds options; an option already chosen, or any second vote on a
    /// single-choice poll, is `alreadyVoted`; nothing of a refused vote is recorded.
    @Test func votesThatAddOptionsToTheBallot() {
        func adding(_ options: [Int]) -> BallotInput {
            var input = BallotInput(options)
            input.adds = true
            return input
        }
        let multiple = Fixture(PollRules(maxVotes: 0))
        let ann = VoterKey(id: "ann")
        func vote(_ f: Fixture, _ options: [Int]) -> VoteOutcome {
            f.reader.vote(adding(options), poll: 7, by: ann, now: 1_000, counting: true)
        }
        #expect(vote(multiple, [0, 2]) == .accepted(previous: .empty, current: Ballot([0, 2])))
        #expect(vote(multiple, [3]) == .accepted(previous: Ballot([0, 2]), current: Ballot([0, 2, 3])))
        #expect(vote(multiple, [1, 2]) == .rejected(.alreadyVoted))
        #expect(vote(multiple, [1, 1]) == .rejected(.duplicateOption))
        #expect(multiple.counts() == [1, 0, 1, 1])
        let single = Fixture()
        #expect(vote(single, [1]) == .accepted(previous: .empty, current: Ballot([1])))
        #expect(vote(single, [2]) == .rejected(.alreadyVoted))
        #expect(vote(single, [1]) == .rejected(.alreadyVoted), "the same choice again is a second vote, not idempotent")
        let upToTwo = Fixture(PollRules(maxVotes: 2))
        #expect(vote(upToTwo, [0]) == .accepted(previous: .empty, current: Ballot([0])))
        #expect(vote(upToTwo, [1, 2]) == .rejected(.tooManyOptions))
        #expect(upToTwo.poll.ballot(of: ann) == Ballot([0]))
    }

    @Test func privatePollNeedsItsToken() {
        let token = PollToken.random()
        let f = Fixture(PollRules(token: token))
        #expect(f.vote("ann", [0]) == .rejected(.tokenRequired))
        #expect(f.vote("ann", [0], token: .random()) == .rejected(.tokenInvalid))
        #expect(f.vote("ann", [0], token: .malformed) == .rejected(.tokenInvalid))
        #expect(f.vote("ann", [0], token: PollToken(parsing: token.description)) == .accepted(previous: .empty, current: Ballot([0])))
    }

    @Test func tokenIsCheckedBeforeStateSoAPrivatePollRevealsNothing() throws {
        let f = Fixture(lifecycle: .draft, PollRules(token: .random()))
        #expect(f.vote("ann", [0]) == .rejected(.tokenRequired))
    }

    @Test func deletedPollIsUnknownToReaders() throws {
        let f = Fixture()
        #expect(f.vote("ann", [0]) == .accepted(previous: .empty, current: Ballot([0])))
        f.registry.forget(7)
        #expect(f.vote("bob", [0]) == .rejected(.unknownPoll))
        f.registry.forget(7)  // the system of record's deletion, told twice: harmless
    }

    @Test func aNewDefinitionKeepsBallotsAndAppliesNewRulesUnlessTheOptionsChange() throws {
        let f = Fixture()
        #expect(f.vote("ann", [0]) == .accepted(previous: .empty, current: Ballot([0])))
        var definition = f.poll.definition
        definition.rules.revote = true
        try f.registry.install(id: 7, definition: definition, lifecycle: .open)
        #expect(f.vote("ann", [1]) == .accepted(previous: Ballot([0]), current: Ballot([1])))
        #expect(f.counts() == [0, 1, 0, 0])
        definition.options.append("five")
        try f.registry.install(id: 7, definition: definition, lifecycle: .open)
        #expect(f.counts() == [0, 0, 0, 0, 0], "other options: another poll, its ballots start empty")
    }

    @Test func definitionsAreValidated() throws {
        let registry = PollRegistry(shardCount: 1, readers: 1)
        func install(_ definition: PollDefinition) throws { try registry.install(id: 1, definition: definition, lifecycle: .open) }
        #expect(throws: PollAdminError.self) { try install(PollDefinition(question: "Q", options: [])) }
        #expect(throws: PollAdminError.self) { try install(PollDefinition(question: "Q", options: (0..<65).map(String.init))) }
        #expect(throws: PollAdminError.self) { try install(PollDefinition(question: "Q", options: ["a", "b"], rules: PollRules(maxVotes: 3))) }
        #expect(registry.poll(1) == nil)
        try install(PollDefinition(question: "Q", options: ["a", "b"]))
        #expect(registry.poll(1) != nil)
    }

    @Test func listFiltersByLifecycleAndLabels() throws {
        let registry = PollRegistry(shardCount: 1, readers: 1)
        func make(_ id: PollID, _ labels: [String: String], _ lifecycle: Lifecycle) throws {
            try registry.install(id: id, definition: PollDefinition(question: "Q", options: ["a"], labels: labels), lifecycle: lifecycle)
        }
        try make(1, ["talk": "room1"], .open)
        try make(2, ["talk": "room1"], .draft)
        try make(3, ["talk": "room2"], .open)
        #expect(registry.list(labels: ["talk": "room1"]).heldIDs == [1, 2])
        #expect(registry.list(lifecycle: .open).heldIDs == [1, 3])
        #expect(registry.list(lifecycle: .open, labels: ["talk": "room1"]).heldIDs == [1])
    }

    @Test func ledgerFullWhenItMayNotGrow() {
        let definition = PollDefinition(question: "Q", options: ["a"])
        let live = Poll.LiveState(
            lifecycle: .open, optionCount: 1, shardCount: 1, ledger: Ledger(expectedVoters: 1, maxGenerations: 1))
        let poll = Poll(id: 1, definition: definition, live: live)
        #expect(poll.ledgerFootprint.slots == 0, "no table before the first voter")
        #expect(poll.vote(BallotInput([0]), by: VoterKey(id: "0"), now: 0, shard: 0, counting: true) == .accepted(previous: .empty, current: Ballot([0])))
        let capacity = poll.ledgerFootprint.slots
        for voter in 1..<capacity {
            #expect(poll.vote(BallotInput([0]), by: VoterKey(id: "\(voter)"), now: 0, shard: 0, counting: true) == .accepted(previous: .empty, current: Ballot([0])))
        }
        #expect(poll.vote(BallotInput([0]), by: VoterKey(id: "one too many"), now: 0, shard: 0, counting: true) == .rejected(.ledgerFull))
        // Voters already in keep working.
        #expect(poll.vote(BallotInput([0]), by: VoterKey(id: "0"), now: 0, shard: 0, counting: true) == .unchanged(Ballot([0])))
    }
}

@Test func rejectionOrdinalsAreDenseAndDistinct() {
    #expect(VoteRejection.allCases.map(\.ordinal) == Array(0..<VoteRejection.allCases.count))
}
