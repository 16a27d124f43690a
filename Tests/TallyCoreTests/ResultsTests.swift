import Testing

@testable import TallyCore

@Suite struct ResultsTests {
    /// ann votes 0, bob votes 1, cat votes 1 on a poll with these rules; returns what `viewer` sees.
    func results(
        _ rules: PollRules, viewer: Viewer, closed: Bool = false, organizer: String? = nil
    ) -> ResultsView {
        let f = Fixture(options: 3, rules, organizer: organizer)
        _ = f.vote("ann", [0])
        _ = f.vote("bob", [1])
        _ = f.vote("cat", [1])
        if closed { try! f.registry.close(7) }
        return f.poll.results(for: viewer, now: 1_000)
    }

    let ann = Viewer(voter: VoterKey(id: "ann"))
    let stranger = Viewer(voter: VoterKey(id: "dan"))

    @Test func alwaysVisibleToEveryone() {
        let view = results(PollRules(visibility: .always), viewer: .anonymous)
        #expect(view.showsResults && view.showsCounts)
        #expect([view.count(of: 0), view.count(of: 1), view.count(of: 2)] == [1, 2, 0])
        #expect(view.voters == 3 && view.totalVotes == 3)
        #expect(view.ownBallot == .empty)
    }

    @Test func afterVoteHidesFromThoseWhoHaveNotVoted() {
        let hidden = results(PollRules(visibility: .afterVote), viewer: stranger)
        #expect(!hidden.showsResults && hidden.count(of: 1) == 0 && hidden.percentage(of: 1) == 0 && hidden.voters == 0)
        let voter = results(PollRules(visibility: .afterVote), viewer: ann)
        #expect(voter.showsResults && voter.count(of: 1) == 2 && voter.ownBallot == Ballot([0]))
        #expect(results(PollRules(visibility: .afterVote), viewer: stranger, closed: true).showsResults)
    }

    @Test func afterCloseHidesUntilClosedOrExpired() {
        #expect(!results(PollRules(visibility: .afterClose), viewer: ann).showsResults)
        #expect(results(PollRules(visibility: .afterClose), viewer: ann, closed: true).count(of: 1) == 2)
        #expect(results(PollRules(closesAt: 500, visibility: .afterClose), viewer: ann).showsResults)
    }

    /// An end date that does not close the poll (a content poll's) still ends the wait for results.
    @Test func afterCloseAndAfterVoteShowPastAnEndDateThatDoesNotClose() {
        let past = results(PollRules(closesAt: 500, closesOnEnd: false, visibility: .afterClose), viewer: ann)
        #expect(past.showsResults && !past.isClosed && past.count(of: 1) == 2)
        #expect(!results(PollRules(closesAt: 5_000, closesOnEnd: false, visibility: .afterClose), viewer: ann).showsResults)
        #expect(results(PollRules(closesAt: 500, closesOnEnd: false, visibility: .afterVote), viewer: stranger).showsResults)
    }

    @Test func organizerOnly() {
        #expect(!results(PollRules(visibility: .organizerOnly), viewer: ann, closed: true).showsResults)
        #expect(results(PollRules(visibility: .organizerOnly), viewer: .organizer).count(of: 1) == 2)
        // The poll's author is an organizer of it.
        #expect(results(PollRules(visibility: .organizerOnly), viewer: ann, organizer: "ann").count(of: 1) == 2)
    }

    @Test func hideCountsShowsPercentagesOnly() {
        let view = results(PollRules(hideCounts: true), viewer: ann)
        #expect(view.showsResults && !view.showsCounts)
        #expect(view.count(of: 1) == 0 && view.voters == 0 && view.totalVotes == 0)
        #expect([view.percentage(of: 0), view.percentage(of: 1), view.percentage(of: 2)] == [33, 67, 0])
        #expect(results(PollRules(hideCounts: true), viewer: .organizer).count(of: 1) == 2)
    }

    @Test func ownBallotIsAlwaysTheVotersToSee() {
        #expect(results(PollRules(visibility: .organizerOnly), viewer: ann).ownBallot == Ballot([0]))
    }

    @Test func percentagesUseLargestRemainder() {
        func percentages(_ counts: [Int64]) -> [Int] {
            var inline = InlineArray<64, Int64>(repeating: 0)
            for (index, count) in counts.enumerated() { inline[index] = count }
            let total = counts.reduce(0, +)
            let result = ResultsView.largestRemainderPercentages(inline, optionCount: counts.count, total: total)
            return counts.indices.map { Int(result[$0]) }
        }
        #expect(percentages([1, 1, 1]) == [34, 33, 33])
        #expect(percentages([1, 2]) == [33, 67])
        #expect(percentages([0, 0]) == [0, 0])
        #expect(percentages([5]) == [100])
        #expect(percentages([1, 1, 1, 1, 1, 1, 1]) == [15, 15, 14, 14, 14, 14, 14])
    }
}
