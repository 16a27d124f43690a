import Foundation
import Testing

@testable import TallyCore

/// Threads racing the same voters on one poll. Real OS threads, started together, each with its
/// own registry reader and counter shard, as event loops have.
@Suite struct ConcurrencyTests {
    static let threads = 6

    /// Runs `body(thread, reader)` on `threads` threads at once.
    func race(_ registry: PollRegistry, _ body: @escaping @Sendable (Int, RegistryReader) -> Void) {
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for thread in 0..<ConcurrencyTests.threads {
            nonisolated(unsafe) let reader = registry.reader(thread)
            done.enter()
            Thread.detachNewThread {
                start.wait()
                body(thread, reader)
                done.leave()
            }
        }
        for _ in 0..<ConcurrencyTests.threads { start.signal() }
        done.wait()
    }

    /// Counters must equal the sum of the ballots in the ledger, voter count likewise.
    func expectCountersMatchBallots(_ poll: Poll, voters: Int) -> [Ballot] {
        let ballots = (0..<voters).map { poll.ballot(of: VoterKey(id: "voter \($0)")) }
        let results = poll.results(for: .organizer, now: 0)
        for option in 0..<poll.definition.options.count {
            #expect(results.count(of: option) == Int64(ballots.filter { $0.contains(option) }.count), "option \(option)")
        }
        #expect(results.voters == Int64(ballots.filter { !$0.isEmpty }.count))
        return ballots
    }

    @Test func noVoterWinsTwiceWithoutRevote() {
        let voters = 2_000
        let registry = PollRegistry(shardCount: ConcurrencyTests.threads, readers: ConcurrencyTests.threads)
        let poll = try! registry.install(
            id: 1, definition: PollDefinition(question: "Q", options: (0..<6).map(String.init), rules: PollRules(maxVotes: 2), expectedVoters: 8),
            lifecycle: .open)
        let accepted = UnsafeMutablePointer<Int>.allocate(capacity: ConcurrencyTests.threads * voters)
        accepted.initialize(repeating: 0, count: ConcurrencyTests.threads * voters)
        nonisolated(unsafe) let wins = accepted
        race(registry) { thread, reader in
            var random = SystemRandomNumberGenerator()
            for voter in 0..<voters {
                // 1 to 3 options: some ballots break maxVotes, some threads send the same one.
                let choices = (0..<Int.random(in: 1...3, using: &random)).map { _ in Int.random(in: 0..<3, using: &random) }
                var input = BallotInput()
                for choice in Set(choices) { input.add(choice) }
                if case .accepted = reader.vote(input, poll: 1, by: VoterKey(id: "voter \(voter)"), now: 0, counting: true) {
                    wins[thread * voters + voter] += 1
                }
            }
        }
        let ballots = expectCountersMatchBallots(poll, voters: voters)
        for voter in 0..<voters {
            let winners = (0..<ConcurrencyTests.threads).reduce(0) { $0 + accepted[$1 * voters + voter] }
            #expect(winners == 1, "voter \(voter) won \(winners) times")
            #expect(!ballots[voter].isEmpty && ballots[voter].count <= 2)
        }
        #expect(poll.ledgerFootprint.records == voters, "each voter has exactly one record across generations")
        accepted.deallocate()
    }

    @Test func revotesAndClearsKeepCountersEqualToBallots() {
        let voters = 500
        let registry = PollRegistry(shardCount: ConcurrencyTests.threads, readers: ConcurrencyTests.threads)
        let poll = try! registry.install(
            id: 1, definition: PollDefinition(question: "Q", options: (0..<5).map(String.init), rules: PollRules(maxVotes: 0, revote: true), expectedVoters: 4),
            lifecycle: .open)
        race(registry) { _, reader in
            var random = SystemRandomNumberGenerator()
            for round in 0..<20_000 {
                let voter = (round * 7919) % voters
                let input = BallotInput(Ballot(mask: random.next() & 0b11111).options)
                _ = reader.vote(input, poll: 1, by: VoterKey(id: "voter \(voter)"), now: 0, counting: true)
            }
        }
        _ = expectCountersMatchBallots(poll, voters: voters)
        #expect(poll.ledgerFootprint.records <= voters)
    }

    @Test(arguments: 1...8)
    func ledgersGrowingUnderRaceNeverDuplicateAVoter(attempt: Int) {
        // Every thread inserts the same voters, in the same order, into 100 ledgers that start at
        // 16 slots: each grows about seven times while threads race to claim and freeze the same
        // voters' slots — the moments where a second record for one voter could slip in.
        let polls = 100
        let voters = 1_000
        let registry = PollRegistry(shardCount: ConcurrencyTests.threads, readers: ConcurrencyTests.threads)
        for id in 1...polls {
            try! registry.install(
                id: PollID(id),
                definition: PollDefinition(question: "Q", options: ["a", "b"], rules: PollRules(revote: true), expectedVoters: 1), lifecycle: .open)
        }
        let keys = (0..<voters).map { VoterKey(id: "voter \($0)") }
        race(registry) { _, reader in
            for id in 1...polls {
                for voter in 0..<voters {
                    var input = BallotInput()
                    input.add(voter % 2)
                    _ = reader.vote(input, poll: PollID(id), by: keys[voter], now: 0, counting: true)
                }
            }
        }
        for id in 1...polls {
            let poll = registry.poll(PollID(id))!
            let ballots = expectCountersMatchBallots(poll, voters: voters)
            for voter in 0..<voters where ballots[voter] != Ballot([voter % 2]) {
                Issue.record("poll \(id): voter \(voter) has \(ballots[voter])")
            }
            #expect(poll.ledgerFootprint.records == voters, "poll \(id): one record per voter")
            #expect(poll.ledgerFootprint.bytes / voters <= 64, "bytes per ballot including empty slots")
        }
    }
}
