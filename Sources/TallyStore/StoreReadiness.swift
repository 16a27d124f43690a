import Atomics

/// Whether every loop can store votes (its Redis connection is up and checked), for `/readyz`
/// (read from any thread).
public final class StoreReadiness: Sendable {
    private let ready: [ManagedAtomic<Bool>]

    public init(count: Int) { ready = (0..<count).map { _ in ManagedAtomic(false) } }

    /// Follows `store`'s connection state (on its loop's thread).
    public func watch(_ store: LoopStore, loop index: Int) {
        let flag = ready[index]
        store.onReadinessChange = { ready in flag.store(ready, ordering: .relaxed) }
    }

    public var allReady: Bool { ready.allSatisfy { $0.load(ordering: .relaxed) } }
}
