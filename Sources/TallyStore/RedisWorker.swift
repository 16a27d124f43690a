import Foundation
import TallyCore

/// The skeleton of the daemon's background workers (poll sync, results follower, close worker): a
/// thread of its own, a blocking client of the Redis or Redis Cluster (`BlockingCluster`) opened
/// when first needed and dropped on any failure (the next use opens a new one), each outage logged once, sleeps that a `wake` or `stop`
/// cuts short, and a `stop` that waits for the thread to end.
public final class RedisWorker: @unchecked Sendable {
    private let label: String
    private let endpoint: RedisEndpoint
    private let readTimeoutMilliseconds: Int?
    /// Guards `stopping`, `woken` and whatever the worker keeps under `locked`.
    private let condition = NSCondition()
    private var stopping = false
    private var woken = false
    private let finished = DispatchSemaphore(value: 0)
    private var started = false
    // The worker thread's own.
    private var redis: BlockingCluster?
    private var inOutage = false

    /// Called on the worker's thread with what went wrong, once per outage, for the log.
    public var onProblem: @Sendable (String) -> Void = { _ in }

    /// - Parameters:
    ///   - label: what the worker is, e.g. "close worker": its log lines start with it, and its
    ///     thread is named after it ("tally-close-worker").
    ///   - readTimeoutMilliseconds: a reply that takes longer fails (a worker must not hang on a
    ///     stalled Redis).
    public init(label: String, redis endpoint: RedisEndpoint, readTimeoutMilliseconds: Int? = 2_000) {
        self.label = label
        self.endpoint = endpoint
        self.readTimeoutMilliseconds = readTimeoutMilliseconds
    }

    /// Runs `body` on a new thread; the thread ends when `body` returns (it should return once
    /// `isStopping`).
    public func start(_ body: @escaping @Sendable (RedisWorker) -> Void) {
        started = true
        let thread = Thread { [self] in
            body(self)
            finished.signal()
        }
        thread.name = "tally-" + label.replacingOccurrences(of: " ", with: "-")
        thread.start()
    }

    /// Asks the worker to stop, wakes it, and waits for its thread to end.
    public func stop() {
        condition.withLock {
            stopping = true
            condition.signal()
        }
        if started { finished.wait() }
    }

    public var isStopping: Bool { condition.withLock { stopping } }

    /// Cuts the worker's current or next sleep short (from any thread).
    public func wake() {
        condition.withLock {
            woken = true
            condition.signal()
        }
    }

    /// Runs `body` under the worker's lock: for state other threads hand it.
    public func locked<Result>(_ body: () -> Result) -> Result { condition.withLock(body) }

    /// Sleeps until `deadline` (wall clock, µs; nil: until woken), a `wake`, or `stop`; `ready`,
    /// checked under the lock, ends the sleep at once when true. False when stopping.
    public func sleep(until deadline: Timestamp?, unless ready: () -> Bool = { false }) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !stopping && !woken && !ready() {
            guard let deadline else {
                condition.wait()
                continue
            }
            let wait = deadline - WallClock.now()
            if wait <= 0 { break }
            // At most an hour at a time: Foundation traps on a deadline centuries away (an end date
            // in the year 8682 crashed the daemon under fuzzing).
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(min(wait, RedisWorker.longestWait)) / 1_000_000))
        }
        woken = false
        return !stopping
    }

    private static let longestWait: Int64 = 3_600_000_000

    /// The worker's connection, opened if there is none (worker thread only).
    public func connection() throws(StoreError) -> BlockingCluster {
        if let redis { return redis }
        let opened = try BlockingCluster(endpoint, readTimeoutMilliseconds: readTimeoutMilliseconds)
        redis = opened
        return opened
    }

    /// Work went through: a later failure is a new outage.
    public func succeeded() { inOutage = false }

    /// Work failed: the connection is dropped, and the first failure of an outage is logged.
    public func failed(_ error: StoreError, retrying: String) {
        if !inOutage { onProblem("\(label): \(error); retrying \(retrying)") }
        inOutage = true
        redis = nil
    }
}
