import Testing

@testable import tally_load

struct ArrivalProfileTests {
    @Test func arrivalsAreTheIntegralOfTheRate() {
        #expect(ArrivalProfile("steady:100")!.arrivals(by: 2, of: 10) == 200)
        #expect(ArrivalProfile("ramp:0:100")!.arrivals(by: 10, of: 10) == 500)
        #expect(ArrivalProfile("ramp:100:100")!.arrivals(by: 4, of: 10) == 400)
        let burst = ArrivalProfile("burst:100:2")!
        #expect(burst.arrivals(by: 2, of: 10) == 100)
        #expect(burst.arrivals(by: 5, of: 10) == 400)
        #expect(burst.arrivals(by: 99, of: 10) == burst.arrivals(by: 10, of: 10), "nothing after the run")
    }

    @Test func aProfileReadsAsWritten() {
        for text in ["steady:20000", "ramp:0:1.5", "burst:200000:2"] { #expect(ArrivalProfile(text)?.description == text) }
    }

    @Test func badProfilesAreRefused() {
        for text in ["", "steady", "steady:-1", "ramp:1", "burst:100:0", "pulse:5", "steady:x"] {
            #expect(ArrivalProfile(text) == nil, "\(text)")
        }
    }
}

struct VoteLedgerTests {
    @Test func acknowledgedVotesAreCertainAndUnansweredOnesEitherWay() {
        var ledger = VoteLedger(voters: 4)
        ledger.answered(0, choice: 1, status: 200)
        ledger.answered(1, choice: 2, status: 200)
        ledger.answered(1, choice: 0, status: 409)  // refused: the earlier ballot stands
        ledger.answered(2, choice: 3, status: 200)
        ledger.answered(2, choice: 0, status: nil)  // no answer: 3 or 0
        ledger.answered(3, choice: 4, status: 503)  // an option the poll lacks: nothing to allow
        let expected = ledger.expected(options: 4, voters: 0..<4)
        #expect(expected.low == [0, 1, 1, 0])
        #expect(expected.high == [1, 1, 1, 1])
        #expect(ledger.uncertain.count == 2)
    }
}

struct SplitMix64Tests {
    @Test func matchesTheReferenceSequence() {
        // The first outputs of the reference implementation (Vigna's splitmix64.c) seeded with 0.
        var generator = SplitMix64(seed: 0)
        #expect([generator.next(), generator.next(), generator.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    @Test func drawsSpreadOverARange() {
        var generator = SplitMix64(seed: 42)
        var counts = [Int](repeating: 0, count: 4)
        for _ in 0..<40_000 { counts[Int.random(in: 0..<4, using: &generator)] += 1 }
        #expect(counts.allSatisfy { (9_000...11_000).contains($0) }, "\(counts)")
    }
}
