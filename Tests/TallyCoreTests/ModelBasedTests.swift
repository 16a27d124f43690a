import PropertyBased
import Testing

@testable import TallyCore

/// The rules written the plain way: dictionaries and sets, no concurrency. The engine must agree
/// with it after every step of any operation sequence.
struct ReferenceModel {
    struct ModelPoll {
        var options: Int
        var rules: PollRules
        var lifecycle: Lifecycle
        var ballots: [Int: Set<Int>] = [:]
    }

    var polls: [PollID: ModelPoll] = [:]
    var now: Timestamp = 1_000_000

    func vote(_ poll: PollID, voter: Int, choices: [Int], token: PollToken?) -> (VoteOutcome, Set<Int>?) {
        guard let p = polls[poll] else { return (.rejected(.unknownPoll), nil) }
        if let required = p.rules.token {
            guard let token else { return (.rejected(.tokenRequired), nil) }
            if token != required { return (.rejected(.tokenInvalid), nil) }
        }
        if p.lifecycle == .draft { return (.rejected(.notOpenYet), nil) }
        if p.rules.closesOnEnd, let end = p.rules.closesAt, now >= end { return (.rejected(.expired), nil) }
        if p.lifecycle == .closed { return (.rejected(.closed), nil) }
        if choices.contains(where: { $0 < 0 || $0 >= p.options }) { return (.rejected(.optionOutOfRange), nil) }
        let chosen = Set(choices)
        if chosen.count != choices.count { return (.rejected(.duplicateOption), nil) }
        if chosen.isEmpty && !p.rules.revote { return (.rejected(.emptyBallot), nil) }
        if chosen.count > (p.rules.maxVotes == 0 ? p.options : p.rules.maxVotes) { return (.rejected(.tooManyOptions), nil) }
        let old = p.ballots[voter] ?? []
        if old == chosen { return (.unchanged(Ballot(chosen)), nil) }
        if !old.isEmpty && !p.rules.revote { return (.rejected(.alreadyVoted), nil) }
        return (.accepted(previous: Ballot(old), current: Ballot(chosen)), chosen)
    }

    func isClosed(_ p: ModelPoll) -> Bool {
        p.lifecycle == .closed || (p.rules.closesOnEnd && p.rules.closesAt.map { now >= $0 } ?? false)
    }

    /// Closed, or past an end date even one that does not close the poll.
    func hasEnded(_ p: ModelPoll) -> Bool { isClosed(p) || p.rules.closesAt.map { now >= $0 } ?? false }

    func showsResults(_ p: ModelPoll, voter: Int) -> Bool {
        switch p.rules.visibility {
        case .always: true
        case .afterVote: hasEnded(p) || !(p.ballots[voter] ?? []).isEmpty
        case .afterClose: hasEnded(p)
        case .organizerOnly: false
        }
    }
}

/// Decodes random 64-bit words into operations, so that the property library can shrink a failing
/// sequence word by word.
struct WordReader {
    var word: UInt64
    mutating func next(_ bound: Int) -> Int {
        let value = Int(word % UInt64(bound))
        word /= UInt64(bound)
        return value
    }
    mutating func flag() -> Bool { next(2) == 1 }
}

@Suite struct ModelBasedTests {
    static let token = PollToken(high: 0xfeed, low: 0xbeef)
    static let voters = 6

    @Test func engineAgreesWithTheReferenceModel() async {
        await propertyCheck(count: 300, input: Gen<UInt64>.value().array(of: 1...120)) { words in
            let registry = PollRegistry(shardCount: 2, readers: 2)
            let readers = [registry.reader(0), registry.reader(1)]
            var model = ReferenceModel()
            for (step, word) in words.enumerated() {
                var w = WordReader(word: word)
                let pollID = PollID(1 + w.next(3))
                switch w.next(12) {
                case 0, 1:  // create
                    let options = 1 + w.next(8)
                    let rules = PollRules(
                        maxVotes: w.next(options + 1), closesAt: w.flag() ? model.now + Timestamp(w.next(5_000)) : nil,
                        closesOnEnd: w.next(4) != 0, revote: w.flag(),
                        visibility: Visibility.allCases[w.next(Visibility.allCases.count)], hideCounts: w.flag(),
                        anonymous: w.flag(), token: w.next(4) == 0 ? ModelBasedTests.token : nil)
                    let lifecycle: Lifecycle = w.next(4) == 0 ? .draft : .open
                    let definition = PollDefinition(
                        question: "Q", options: (0..<options).map { "o\($0)" }, rules: rules, expectedVoters: 1)
                    // As the daemon creates: under an id no poll has (Redis hands them out).
                    guard model.polls[pollID] == nil else { break }
                    #expect((try? registry.install(id: pollID, definition: definition, lifecycle: lifecycle)) != nil, "step \(step): create")
                    model.polls[pollID] = .init(options: options, rules: rules, lifecycle: lifecycle)
                case 2...6:  // vote, revote, clear, bad ballots
                    let voter = w.next(ModelBasedTests.voters)
                    let choices = (0..<w.next(4)).map { _ in w.next(11) - 1 }
                    let token: PollToken? = [nil, ModelBasedTests.token, PollToken(high: 1, low: 2)][w.next(3)]
                    let reader = readers[w.next(2)]
                    let got = reader.vote(
                        BallotInput(choices), poll: pollID, by: VoterKey(id: "v\(voter)"), token: token, now: model.now, counting: true)
                    let (expected, newBallot) = model.vote(pollID, voter: voter, choices: choices, token: token)
                    #expect(got == expected, "step \(step): vote \(choices) by v\(voter) on \(pollID)")
                    if let newBallot { model.polls[pollID]!.ballots[voter] = newBallot.isEmpty ? nil : newBallot }
                case 7:  // close
                    let closed = (try? registry.close(pollID)) != nil
                    #expect(closed == (model.polls[pollID]?.lifecycle == .open), "step \(step): close")
                    if closed { model.polls[pollID]!.lifecycle = .closed }
                case 8:  // reopen
                    let reopened = transition(registry, pollID, from: .closed, to: .open, "reopen")
                    #expect(reopened == (model.polls[pollID]?.lifecycle == .closed), "step \(step): reopen")
                    if reopened { model.polls[pollID]!.lifecycle = .open }
                case 9:  // open a draft
                    let opened = transition(registry, pollID, from: .draft, to: .open, "open")
                    #expect(opened == (model.polls[pollID]?.lifecycle == .draft), "step \(step): open")
                    if opened { model.polls[pollID]!.lifecycle = .open }
                case 10:  // time passes: end dates expire
                    model.now += Timestamp(w.next(3_000))
                default:  // delete
                    registry.forget(pollID)
                    model.polls[pollID] = nil
                }
                compare(registry, model, step: step)
            }
        }
    }

    /// An organizer's lifecycle call as the daemon makes it: the poll must be in `from`; then, once
    /// Redis has it, the registry installs the poll in `to`.
    func transition(_ registry: PollRegistry, _ id: PollID, from: Lifecycle, to: Lifecycle, _ action: String) -> Bool {
        guard let poll = try? registry.poll(id, in: from, for: action) else { return false }
        return (try? registry.install(id: id, definition: poll.definition, lifecycle: to)) != nil
    }

    func compare(_ registry: PollRegistry, _ model: ReferenceModel, step: Int) {
        #expect(Set(registry.ids) == Set(model.polls.keys), "step \(step): poll ids")
        for (id, expected) in model.polls {
            guard let poll = registry.poll(id) else { continue }
            #expect(poll.lifecycle == expected.lifecycle, "step \(step): lifecycle of \(id)")
            #expect(poll.isClosed(at: model.now) == model.isClosed(expected), "step \(step): closed \(id)")
            let organizer = poll.results(for: .organizer, now: model.now)
            for option in 0..<expected.options {
                let count = expected.ballots.values.filter { $0.contains(option) }.count
                #expect(organizer.count(of: option) == Int64(count), "step \(step): poll \(id) option \(option)")
            }
            #expect(organizer.voters == Int64(expected.ballots.count), "step \(step): voters of \(id)")
            if organizer.totalVotes > 0 {
                #expect((0..<expected.options).map(organizer.percentage(of:)).reduce(0, +) == 100)
            }
            for voter in 0..<ModelBasedTests.voters {
                let view = poll.results(for: Viewer(voter: VoterKey(id: "v\(voter)")), now: model.now)
                #expect(view.ownBallot == Ballot(expected.ballots[voter] ?? []), "step \(step): ballot of v\(voter)")
                #expect(view.showsResults == model.showsResults(expected, voter: voter), "step \(step): visibility")
                #expect(view.showsCounts == (view.showsResults && !expected.rules.hideCounts), "step \(step): counts shown")
            }
        }
    }
}
