import Synchronization

/// A number one thread of a test sets and many read in a tight loop (a phase, a stop flag): an
/// atomic, where a `Mutex` read by dozens of voting threads at once stalled them for a minute on
/// these machines.
public final class SharedState: Sendable {
    private let state: Atomic<Int>

    public init(_ value: Int = 0) { state = Atomic(value) }

    public var value: Int { state.load(ordering: .acquiring) }
    public func set(_ value: Int) { state.store(value, ordering: .releasing) }

    /// For a stop flag: `isSet` once `set()` was called.
    public var isSet: Bool { value != 0 }
    public func set() { set(1) }
}
