import Foundation

/// Foundation's `Process.run` crashed once (in a `memcpy` inside it) while another test held 2 000
/// sockets under a raised descriptor limit, once tests happened to overlap that way. Launches go
/// through this gate, and a test that opens that many descriptors holds it alone while it does.
public final class ProcessGate: @unchecked Sendable {
    public static let shared = ProcessGate()
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    private static let ownerKey = "tally.processGate.owner"

    private init() {
        lock = .allocate(capacity: 1)
        pthread_rwlock_init(lock, nil)
    }

    /// Runs `body` (which launches a process) unless a test holds the gate alone; on the thread
    /// that holds it, at once.
    public func launch<T>(_ body: () throws -> T) rethrows -> T {
        if Thread.current.threadDictionary[ProcessGate.ownerKey] != nil { return try body() }
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// Runs `body` while no other thread launches a process.
    public func alone<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(lock)
        Thread.current.threadDictionary[ProcessGate.ownerKey] = true
        defer {
            Thread.current.threadDictionary[ProcessGate.ownerKey] = nil
            pthread_rwlock_unlock(lock)
        }
        return try body()
    }
}
