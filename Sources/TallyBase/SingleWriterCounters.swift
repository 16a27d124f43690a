import Atomics

/// A fixed row of 64-bit counters that one thread writes (a relaxed load and store, no
/// read-modify-write: nobody else writes them) and any thread reads, for `/metrics`. Allocated once;
/// the owner frees it with `deallocate`.
public struct SingleWriterCounters: @unchecked Sendable {
    private let words: UnsafeMutablePointer<Int64.AtomicRepresentation>

    public init(count: Int) {
        words = UnsafeMutableRawPointer.allocate(byteCount: count * 8, alignment: 64)
            .bindMemory(to: Int64.AtomicRepresentation.self, capacity: count)
        words.initialize(repeating: Int64.AtomicRepresentation(0), count: count)
    }

    public func deallocate() { words.deallocate() }

    public subscript(index: Int) -> Int64 { UnsafeAtomic<Int64>(at: words + index).load(ordering: .relaxed) }

    /// Only from the writing thread.
    public func set(_ index: Int, _ value: Int64) { UnsafeAtomic<Int64>(at: words + index).store(value, ordering: .relaxed) }

    /// Only from the writing thread.
    public func add(_ index: Int, _ delta: Int64) {
        let counter = UnsafeAtomic<Int64>(at: words + index)
        counter.store(counter.load(ordering: .relaxed) &+ delta, ordering: .relaxed)
    }
}
