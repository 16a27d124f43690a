import Atomics

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The polls of 256 consecutive ids (page `n` holds ids `n * 256` to `n * 256 + 255`), immutable:
/// changing one poll makes a new page, so a change copies 256 references however many polls there
/// are. Poll ids come from one counter (Redis' INCR), so pages fill densely and a lookup is an
/// index, not a hash.
final class PollPage: @unchecked Sendable {
    static let size = 256
    static let empty = PollPage([Poll?](repeating: nil, count: size))

    /// The polls by `id % 256`, keeping them alive.
    let polls: [Poll?]
    /// The same without reference counting, for the vote path.
    private let unretained: UnsafeMutablePointer<UnsafeMutableRawPointer?>

    init(_ polls: [Poll?]) {
        precondition(polls.count == PollPage.size)
        self.polls = polls
        unretained = .allocate(capacity: PollPage.size)
        for (index, poll) in polls.enumerated() { unretained[index] = poll.map { Unmanaged.passUnretained($0).toOpaque() } }
    }

    deinit { unretained.deallocate() }

    static func number(of id: PollID) -> UInt64 { id >> 8 }

    /// Calls `body` with each poll of the page, unretained (valid during the call): a scan of
    /// every poll touches no reference count.
    func forEachPoll(_ body: (Poll) -> Void) {
        for index in 0..<PollPage.size {
            if let raw = unretained[index] { Unmanaged<Poll>.fromOpaque(raw)._withUnsafeGuaranteedRef(body) }
        }
    }

    /// The poll `id` (of this page), unretained: valid while the page is.
    @inline(__always)
    func poll(_ id: PollID) -> Unmanaged<Poll>? {
        unretained[Int(truncatingIfNeeded: id & 0xFF)].map { Unmanaged.fromOpaque($0) }
    }
}

/// How the registry hands each reader thread the newest page of every 256 ids without a lock.
///
/// A slot per page and reader holds two words: a mailbox (a retained page posted and not taken
/// yet, or 0) and the page the reader took last (retained; only its reader writes it). Posting
/// exchanges a page into the mailbox and releases one never taken; a reader that finds its
/// mailbox full takes the page and releases the one it held. Whoever takes a page owns it, so no
/// page is freed while a reader still uses it, and a reader picks up a change the next time it
/// looks up a poll of that page (one relaxed load when there is none).
///
/// Slots are in chunks of 256 pages (65 536 ids), found through a directory that is reserved
/// whole (zero pages until used) and filled as ids grow; a chunk is published once, by an atomic
/// store, and neither moves nor goes away before the registry does. Ids up to 2^40 have slots.
final class PageSlots: @unchecked Sendable {
    static let pagesPerChunk = 256
    static let chunkCount = 1 << 24
    static let maxPollID: PollID = (1 << 40) - 1

    let readers: Int
    /// Chunk addresses (0: none yet), by page number / 256.
    let directory: UnsafeMutablePointer<UInt.AtomicRepresentation>
    /// One past the highest chunk number allocated (writers only): what `deinit` looks through.
    private var chunkEnd = 0
    /// The same, for readers (`takePosted`).
    private let publishedChunkEnd = ManagedAtomic<Int>(0)

    init(readers: Int) {
        self.readers = readers
        directory = calloc(PageSlots.chunkCount, MemoryLayout<UInt>.stride)!.bindMemory(to: UInt.AtomicRepresentation.self, capacity: PageSlots.chunkCount)
    }

    deinit {
        for chunkNumber in 0..<chunkEnd {
            let address = UnsafeAtomic<UInt>(at: directory + chunkNumber).load(ordering: .acquiring)
            guard let chunk = UnsafeMutablePointer<UInt.AtomicRepresentation>(bitPattern: address) else { continue }
            for word in 0..<(PageSlots.pagesPerChunk * readers * 2) { PageSlots.release(UnsafeAtomic<UInt>(at: chunk + word).load(ordering: .acquiring)) }
            free(chunk)
        }
        free(directory)
    }

    /// Gives every reader `page` as page `number`. The registry's writers only, one at a time.
    func post(_ page: PollPage, number: UInt64) {
        let chunk = chunkForWriting(Int(number >> 8))
        for reader in 0..<readers {
            let bits = UInt(bitPattern: Unmanaged.passRetained(page).toOpaque())
            PageSlots.release(UnsafeAtomic<UInt>(at: PageSlots.slot(chunk, reader: reader, page: number)).exchange(bits, ordering: .acquiringAndReleasing))
        }
    }

    private func chunkForWriting(_ chunkNumber: Int) -> UnsafeMutablePointer<UInt.AtomicRepresentation> {
        let entry = UnsafeAtomic<UInt>(at: directory + chunkNumber)
        if let chunk = UnsafeMutablePointer<UInt.AtomicRepresentation>(bitPattern: entry.load(ordering: .acquiring)) { return chunk }
        let words = PageSlots.pagesPerChunk * readers * 2
        let chunk = calloc(words, MemoryLayout<UInt>.stride)!.bindMemory(to: UInt.AtomicRepresentation.self, capacity: words)
        entry.store(UInt(bitPattern: chunk), ordering: .releasing)
        chunkEnd = max(chunkEnd, chunkNumber + 1)
        publishedChunkEnd.store(chunkEnd, ordering: .releasing)
        return chunk
    }

    /// Reader `reader`'s mailbox for page `number`; its taken page is the next word.
    @inline(__always)
    static func slot(_ chunk: UnsafeMutablePointer<UInt.AtomicRepresentation>, reader: Int, page number: UInt64) -> UnsafeMutablePointer<UInt.AtomicRepresentation> {
        chunk + (reader &* pagesPerChunk &+ Int(truncatingIfNeeded: number & 0xFF)) &* 2
    }

    /// Reader `reader`'s page `number` in `directory`, after taking one posted since it last
    /// looked; unretained (its slot holds it). Only that reader's thread calls this.
    @inline(__always)
    static func page(_ number: UInt64, reader: Int, in directoryAddress: UnsafeMutableRawPointer) -> Unmanaged<PollPage>? {
        guard number >> 8 < chunkCount else { return nil }
        let directory = directoryAddress.assumingMemoryBound(to: UInt.AtomicRepresentation.self)
        let address = UnsafeAtomic<UInt>(at: directory + Int(truncatingIfNeeded: number >> 8)).load(ordering: .acquiring)
        guard let chunk = UnsafeMutablePointer<UInt.AtomicRepresentation>(bitPattern: address) else { return nil }
        let mailbox = UnsafeAtomic<UInt>(at: slot(chunk, reader: reader, page: number))
        let taken = UnsafeAtomic<UInt>(at: slot(chunk, reader: reader, page: number) + 1)
        if mailbox.load(ordering: .relaxed) != 0 {
            let posted = mailbox.exchange(0, ordering: .acquiring)
            if posted != 0 {
                let previous = taken.load(ordering: .relaxed)
                taken.store(posted, ordering: .relaxed)
                release(previous)
            }
        }
        return UnsafeRawPointer(bitPattern: taken.load(ordering: .relaxed)).map { Unmanaged<PollPage>.fromOpaque($0) }
    }

    /// Reader `reader` takes every page posted to it since it last looked, releasing the pages it
    /// held: a page whose polls were deleted or let go of is freed even if nobody looks up a poll
    /// of it again. Only that reader's thread calls this; it walks one slot per page made so far.
    func takePosted(reader: Int) {
        for chunkNumber in 0..<publishedChunkEnd.load(ordering: .acquiring) {
            guard UnsafeAtomic<UInt>(at: directory + chunkNumber).load(ordering: .acquiring) != 0 else { continue }
            for page in 0..<UInt64(PageSlots.pagesPerChunk) {
                _ = PageSlots.page(UInt64(chunkNumber) << 8 | page, reader: reader, in: UnsafeMutableRawPointer(directory))
            }
        }
    }

    private static func release(_ bits: UInt) {
        if let pointer = UnsafeRawPointer(bitPattern: bits) { Unmanaged<PollPage>.fromOpaque(pointer).release() }
    }
}
