import Synchronization

/// Merges the generator threads' seconds into one progress line: a second is shown once every
/// thread has finished it.
final class ProgressBoard: Sendable {
    private let threads: Int
    private let seconds = Mutex<[Int: (reported: Int, figures: LoadStats.Second, statuses: [Int: Int])]>([:])
    private let show: @Sendable (Int, LoadStats.Second, [Int: Int]) -> Void

    /// `show` gets (second, its merged figures, answers by status so far).
    init(threads: Int, show: @escaping @Sendable (Int, LoadStats.Second, [Int: Int]) -> Void) {
        self.threads = threads
        self.show = show
    }

    /// One thread's figures, at the end of each of its seconds.
    func post(_ stats: LoadStats) {
        let second = stats.reportedSeconds - 1
        guard second >= 0, second < stats.perSecond.count else { return }
        let complete: (LoadStats.Second, [Int: Int])? = seconds.withLock { board in
            var entry = board[second] ?? (0, LoadStats.Second(), [:])
            entry.reported += 1
            entry.figures.add(stats.perSecond[second])
            entry.statuses.merge(stats.statuses, uniquingKeysWith: +)
            board[second] = entry.reported == threads ? nil : entry
            return entry.reported == threads ? (entry.figures, entry.statuses) : nil
        }
        if let (figures, statuses) = complete { show(second, figures, statuses) }
    }
}
