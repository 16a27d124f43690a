import Testing

@testable import TallyCore

/// Votes recorded uncounted and settled by the store's verdict (write-through mode).
@Suite struct SettleTests {
    private func uncounted(_ f: Fixture, _ voter: String, _ options: [Int]) -> VoteOutcome {
        f.reader.vote(BallotInput(options), poll: 7, by: VoterKey(id: voter), now: 1_000, counting: false)
    }

    private func settle(_ f: Fixture, _ voter: String, _ outcome: VoteOutcome, _ verdict: StoredVerdict) {
        guard case .accepted(let previous, let current) = outcome else { Issue.record("not accepted"); return }
        f.reader.settle(poll: 7, voter: VoterKey(id: voter), previous: previous, current: current, added: .empty, verdict: verdict)
    }

    @Test func countsOnlyWhatTheStoreAccepted() {
        let f = Fixture()
        let outcome = uncounted(f, "ann", [1])
        #expect(f.counts() == [0, 0, 0, 0])
        settle(f, "ann", outcome, .accepted(previous: .empty))
        #expect(f.counts() == [0, 1, 0, 0])
    }

    @Test func theStoresPreviousBallotWins() {
        let f = Fixture(PollRules(revote: true))
        // Elsewhere the voter already chose option 3; this daemon did not know.
        _ = f.poll.restore(voter: VoterKey(id: "other"), ballot: Ballot([3]))
        let outcome = uncounted(f, "ann", [1])
        settle(f, "ann", outcome, .accepted(previous: Ballot([3])))
        // Own contribution: option 3 lost a vote, option 1 gained one.
        #expect(f.counts() == [0, 1, 0, 0])
    }

    @Test func aRefusedOrUnknownVoteIsPutBack() {
        for verdict in [StoredVerdict.rejected(.alreadyVoted), .notStored, .unknown] {
            let f = Fixture()
            let outcome = uncounted(f, "ann", [2])
            settle(f, "ann", outcome, verdict)
            #expect(f.poll.ballot(of: VoterKey(id: "ann")) == .empty)
            #expect(f.counts() == [0, 0, 0, 0])
            // The voter can try again.
            #expect(uncounted(f, "ann", [2]) == .accepted(previous: .empty, current: Ballot([2])))
        }
    }

    @Test func putBackLeavesALaterBallotAlone() {
        let f = Fixture(PollRules(revote: true))
        let first = uncounted(f, "ann", [0])
        _ = uncounted(f, "ann", [1])  // a newer ballot from the same voter, on its way to the store
        settle(f, "ann", first, .unknown)
        #expect(f.poll.ballot(of: VoterKey(id: "ann")) == Ballot([1]))
    }

    @Test func restoreLoadsBallotsAndCounts() {
        let f = Fixture()
        #expect(f.poll.restore(voter: VoterKey(id: "ann"), ballot: Ballot([0])))
        #expect(f.poll.restore(voter: VoterKey(id: "bob"), ballot: Ballot([0, 2])))
        #expect(f.counts() == [2, 0, 1, 0])
        #expect(f.vote("ann", [1]) == .rejected(.alreadyVoted))
    }
}
