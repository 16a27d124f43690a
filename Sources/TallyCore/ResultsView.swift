/// A poll's results as one viewer may see them, computed without allocating (fixed inline storage
/// for up to `Ballot.maxOptions` options), so that dialects can answer a vote with its results.
///
/// What is hidden is zero here, never merely flagged: a dialect cannot leak it by mistake.
public struct ResultsView: Sendable {
    public let optionCount: Int
    public let isClosed: Bool
    /// The viewer's own ballot: always theirs to see.
    public let ownBallot: Ballot
    /// Whether the viewer may see results at all (visibility rules).
    public let showsResults: Bool
    /// Whether the viewer may see absolute numbers (false: percentages only, or nothing).
    public let showsCounts: Bool
    /// Voters with a ballot (0 unless `showsCounts`).
    public let voters: Int64
    /// Sum of all options' counts (0 unless `showsCounts`).
    public let totalVotes: Int64
    private var counts: InlineArray<64, Int64>
    private var percentages: InlineArray<64, UInt8>

    init(
        optionCount: Int, counts all: InlineArray<64, Int64>, voters allVoters: Int64, isClosed: Bool, ownBallot: Ballot,
        showsResults: Bool, showsCounts: Bool
    ) {
        self.optionCount = optionCount
        self.isClosed = isClosed
        self.ownBallot = ownBallot
        self.showsResults = showsResults
        self.showsCounts = showsCounts
        counts = InlineArray(repeating: 0)
        percentages = InlineArray(repeating: 0)
        var total: Int64 = 0
        if showsResults {
            for option in 0..<optionCount {
                // A shard sum can dip below zero while a voter's revote on one loop overtakes
                // their first vote's increment on another.
                let count = max(0, all[option])
                counts[option] = count
                total += count
            }
            percentages = ResultsView.largestRemainderPercentages(counts, optionCount: optionCount, total: total)
        }
        voters = showsCounts ? max(0, allVoters) : 0
        totalVotes = showsCounts ? total : 0
        if !showsCounts { counts = InlineArray(repeating: 0) }
    }

    /// Votes for `option` (0 unless `showsCounts`).
    public func count(of option: Int) -> Int64 { counts[option] }

    /// Whole percentages of all votes; they sum to exactly 100 when there is any vote (0 unless
    /// `showsResults`).
    public func percentage(of option: Int) -> Int { Int(percentages[option]) }

    /// Largest remainder (Hare): floor every share, then give the points left to the largest
    /// remainders, lower option first on ties.
    static func largestRemainderPercentages(
        _ counts: InlineArray<64, Int64>, optionCount: Int, total: Int64
    ) -> InlineArray<64, UInt8> {
        var result = InlineArray<64, UInt8>(repeating: 0)
        guard total > 0 else { return result }
        var remainders = InlineArray<64, Int64>(repeating: -1)
        var assigned = 0
        for option in 0..<optionCount {
            let scaled = counts[option] * 100
            result[option] = UInt8(scaled / total)
            remainders[option] = scaled % total
            assigned += Int(result[option])
        }
        for _ in assigned..<100 {
            var best = 0
            for option in 1..<max(1, optionCount) where remainders[option] > remainders[best] { best = option }
            result[best] += 1
            remainders[best] = -1
        }
        return result
    }
}
