import Atomics

/// Rows of 64-bit atomic words, each row starting on its own cache line, so that threads writing
/// different rows never share a line. The storage under `OptionCounters` and `StoredTallies`.
final class PaddedRows: @unchecked Sendable {
    let rowCount: Int
    private let wordsPerRow: Int
    private let words: UnsafeMutablePointer<Int64.AtomicRepresentation>

    /// `rowCount` rows of at least `words` words each, all zero.
    init(rowCount: Int, words: Int) {
        precondition(rowCount > 0)
        self.rowCount = rowCount
        wordsPerRow = (words + 7) / 8 * 8
        let total = wordsPerRow * rowCount
        self.words = UnsafeMutableRawPointer.allocate(byteCount: total * 8, alignment: 64)
            .bindMemory(to: Int64.AtomicRepresentation.self, capacity: total)
        self.words.initialize(repeating: Int64.AtomicRepresentation(0), count: total)
    }

    deinit { words.deallocate() }

    @inline(__always)
    func word(_ row: Int, _ index: Int) -> UnsafeAtomic<Int64> {
        UnsafeAtomic(at: words + row * wordsPerRow + index)
    }
}

/// swift-atomics' storage of one atomic word, named apart from the standard library's
/// `Synchronization` type of the same name, so files that use both (an `Atomic` stored inline
/// beside `UnsafeAtomic`s over raw memory) can say which they mean.
typealias AtomicWordStorage = UInt.AtomicRepresentation
typealias AtomicWord64Storage = UInt64.AtomicRepresentation
