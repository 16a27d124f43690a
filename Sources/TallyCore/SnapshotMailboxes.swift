import Atomics

/// One atomic word per reader thread, each on its own cache line, through which the registry hands
/// each reader the newest snapshot.
///
/// A mailbox holds a retained reference or 0. Posting exchanges a new reference in and releases
/// one the reader never took; taking exchanges 0 in. Whoever gets a reference out of a mailbox owns
/// it, so no snapshot is freed while a reader still uses it.
final class SnapshotMailboxes: @unchecked Sendable {
    private static let stride = 8  // words: one cache line per reader
    let count: Int
    private let words: UnsafeMutablePointer<UInt.AtomicRepresentation>

    init(count: Int) {
        self.count = count
        let total = count * SnapshotMailboxes.stride
        words = UnsafeMutableRawPointer.allocate(byteCount: total * 8, alignment: 64)
            .bindMemory(to: UInt.AtomicRepresentation.self, capacity: total)
        words.initialize(repeating: UInt.AtomicRepresentation(0), count: total)
    }

    deinit {
        for reader in 0..<count { release(mailbox(reader).word.exchange(0, ordering: .acquiring)) }
        words.deallocate()
    }

    /// Gives every reader `snapshot`.
    func post(_ snapshot: PollSnapshot) {
        for reader in 0..<count {
            let bits = UInt(bitPattern: Unmanaged.passRetained(snapshot).toOpaque())
            release(mailbox(reader).word.exchange(bits, ordering: .acquiringAndReleasing))
        }
    }

    /// Reader `reader`'s own mailbox: a plain value, so checking it touches no reference count.
    func mailbox(_ reader: Int) -> Mailbox { Mailbox(word: UnsafeAtomic(at: words + reader * SnapshotMailboxes.stride)) }

    struct Mailbox {
        let word: UnsafeAtomic<UInt>

        /// The snapshot posted since the reader last took one, if any. One relaxed load when none.
        @inline(__always)
        func take() -> PollSnapshot? {
            guard word.load(ordering: .relaxed) != 0 else { return nil }
            guard let pointer = UnsafeRawPointer(bitPattern: word.exchange(0, ordering: .acquiring)) else { return nil }
            return Unmanaged<PollSnapshot>.fromOpaque(pointer).takeRetainedValue()
        }
    }

    private func release(_ bits: UInt) {
        if let pointer = UnsafeRawPointer(bitPattern: bits) { Unmanaged<PollSnapshot>.fromOpaque(pointer).release() }
    }
}
