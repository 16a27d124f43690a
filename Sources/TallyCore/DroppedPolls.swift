/// The closed polls a daemon let go of (`PollRegistry.drop`): Redis still has them, memory keeps
/// eight bytes each (their `LabelSignature`), enough for a listing to know which of them to load
/// back. Kept per page of 256 ids, like the registry's pages. Writers' side only (under the
/// registry's mutex).
struct DroppedPolls {
    /// Per page number, one word per id: the signature with bit 63 set, or 0 (not dropped).
    private var pages: [UInt64: [UInt64]] = [:]
    private(set) var count = 0

    private static let present: UInt64 = 1 << 63

    mutating func insert(_ id: PollID, _ signature: LabelSignature) {
        let number = PollPage.number(of: id)
        var words = pages[number] ?? [UInt64](repeating: 0, count: PollPage.size)
        if words[Int(id & 0xFF)] == 0 { count += 1 }
        words[Int(id & 0xFF)] = signature.bits | Self.present
        pages[number] = words
    }

    mutating func remove(_ id: PollID) {
        let number = PollPage.number(of: id)
        guard var words = pages[number], words[Int(id & 0xFF)] != 0 else { return }
        words[Int(id & 0xFF)] = 0
        count -= 1
        pages[number] = words.contains { $0 != 0 } ? words : nil
    }

    func contains(_ id: PollID) -> Bool { signature(of: id) != nil }

    var pageNumbers: Dictionary<UInt64, [UInt64]>.Keys { pages.keys }

    /// The signature the poll was dropped with; nil if it was not.
    func signature(of id: PollID) -> LabelSignature? {
        guard let word = pages[PollPage.number(of: id)]?[Int(id & 0xFF)], word != 0 else { return nil }
        return LabelSignature(bits: word)
    }

    /// Every dropped poll's id.
    var ids: [PollID] {
        pages.flatMap { number, words in words.indices.filter { words[$0] != 0 }.map { number << 8 | PollID($0) } }
    }
}
