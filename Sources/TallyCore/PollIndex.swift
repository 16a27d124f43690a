/// The vote path's lookup of a poll by id: an immutable open-addressing table of unretained polls.
///
/// Swift's Dictionary hashes a key with SipHash, which measured 134 of the engine's ~480
/// instructions per vote; poll ids are small integers from one counter, which a multiplicative
/// (Fibonacci) hash spreads evenly at a few instructions. At most half full, so every probe ends.
///
/// A plain value with no reference counting: whoever builds one owns its memory and calls
/// `deallocate` when the last copy is no longer used (`PollSnapshot`).
struct PollIndex {
    private struct Entry {
        var id: PollID
        var poll: Unmanaged<Poll>?
    }

    private let entries: UnsafeMutablePointer<Entry>
    private let mask: Int
    /// 64 minus the table's log2 size: the hash's top bits are its index.
    private let shift: UInt64

    init(_ polls: [PollID: Poll]) {
        var capacityLog2 = 3
        while 1 << capacityLog2 < 2 * polls.count { capacityLog2 += 1 }
        let capacity = 1 << capacityLog2
        entries = .allocate(capacity: capacity)
        entries.initialize(repeating: Entry(id: 0, poll: nil), count: capacity)
        mask = capacity - 1
        shift = UInt64(64 - capacityLog2)
        for (id, poll) in polls {
            var index = slot(of: id)
            while entries[index].poll != nil { index = (index + 1) & mask }
            entries[index] = Entry(id: id, poll: Unmanaged.passUnretained(poll))
        }
    }

    func deallocate() { entries.deallocate() }

    @inline(__always)
    subscript(id: PollID) -> Unmanaged<Poll>? {
        var index = slot(of: id)
        while let poll = entries[index].poll {
            if entries[index].id == id { return poll }
            index = (index + 1) & mask
        }
        return nil
    }

    @inline(__always)
    private func slot(of id: PollID) -> Int { Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> shift) }
}
