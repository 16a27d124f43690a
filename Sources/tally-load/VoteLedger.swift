/// What the acknowledged votes of a run imply: each voter's ballot as the server confirmed it, so
/// the tallies it reports can be checked to the vote. A vote whose answer never came (timeout,
/// dropped connection) or came as a 5xx may or may not be stored: that voter is uncertain, and the
/// check allows either ballot.
struct VoteLedger {
    /// Each voter's confirmed choice (nil: none yet), by voter index.
    private(set) var confirmed: [Int?]
    /// Voters whose last vote's fate is unknown, with the choice it asked for.
    private(set) var uncertain: [Int: Int] = [:]
    private var busy: [Bool]

    init(voters: Int) {
        confirmed = Array(repeating: nil, count: voters)
        busy = Array(repeating: false, count: voters)
    }

    func isBusy(_ voter: Int) -> Bool { busy[voter] }
    mutating func sent(_ voter: Int) { busy[voter] = true }

    /// The server's answer to `voter` asking for `choice`.
    mutating func answered(_ voter: Int, choice: Int, status: Int?) {
        busy[voter] = false
        switch status {
        case .some(200..<300):
            confirmed[voter] = choice
            uncertain[voter] = nil
        case .some(400..<500):
            break  // refused: nothing changed
        default:
            uncertain[voter] = choice
        }
    }

    /// The votes per option these answers imply, as a range: certain ones, and at most how many
    /// more (or fewer) the uncertain voters could account for.
    func expected(options: Int, voters: some Sequence<Int>) -> (low: [Int], high: [Int]) {
        var low = Array(repeating: 0, count: options)
        var high = low
        for voter in voters {
            let stored = confirmed[voter]
            if let maybe = uncertain[voter], maybe != stored, maybe < options {
                if let stored { high[stored] += 1 }
                high[maybe] += 1
            } else if let stored {
                low[stored] += 1
                high[stored] += 1
            }
        }
        return (low, high)
    }
}
