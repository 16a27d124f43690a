import Atomics
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One poll's voter → ballot records: a lock-free open-addressing table.
///
/// A record is three 64-bit words, 24 bytes: the voter key's two words and the ballot mask.
/// - A slot is claimed by compare-and-swap of its first word from `empty` to `busy`; the claimer
///   writes the key's second word and then publishes the first (release). Readers that meet `busy`
///   wait the few instructions until it is published.
/// - A ballot changes by compare-and-swap of the mask word (see `Poll.vote`), so two threads voting
///   for one voter cannot both win.
///
/// Growth, without moving records: the ledger is a list of generations, each twice the size of the
/// one before. When the newest reaches 3/4 full, the thread whose claim crossed that mark allocates
/// the next (`calloc`, so large tables are zero pages until touched). New records go to the newest
/// generation; old ones stay where they are. To keep a key from being inserted twice, a thread that
/// misses a key in an older generation *freezes* the empty slot that ended its probe (empty →
/// `frozen`): a frozen slot ends every probe like an empty one, and nobody can claim it. So either
/// the other thread's claim happened first (and the prober finds the key), or the freeze did (and
/// the claim fails and retries in the newest generation).
///
/// Memory: a record is 24 bytes; with a 3/4 load bound and doubling, a ledger holds 32–64 bytes per
/// ballot including its empty slots. A ledger without records holds no table at all: the first
/// claim allocates the block that lists the generations (`Block`) with the first table, so a poll
/// nobody voted in costs a few words. Records of a deleted poll go with its `Ledger`.
final class Ledger: @unchecked Sendable {
    static let wordsPerSlot = 3

    // The first word of a slot: one of these, or a key's `high` word (whose top bit is set).
    private static let empty: UInt64 = 0
    private static let busy: UInt64 = 1
    private static let frozen: UInt64 = 2

    private let firstCapacityLog2: Int
    /// Generations it may grow to; the 40 of production is more than memory allows.
    private let maxGenerations: Int
    /// The address of the ledger's `Block`, 0 until its first record.
    private let blockAddress = Atomic<UInt>(0)

    /// The generations, in words: their count, then each one's table address (0 until allocated),
    /// then each one's claimed slots. Allocated once, with the first table, and never moved.
    private struct Block {
        let words: UnsafeMutablePointer<AtomicWordStorage>
        let maxGenerations: Int

        @inline(__always) var generationCount: UnsafeAtomic<UInt> { UnsafeAtomic(at: words) }
        @inline(__always) func table(_ generation: Int) -> UnsafeAtomic<UInt> { UnsafeAtomic(at: words + 1 + generation) }
        func occupancy(_ generation: Int) -> UnsafeAtomic<UInt> { UnsafeAtomic(at: words + 1 + maxGenerations + generation) }
        @inline(__always) var generations: Int { Int(generationCount.load(ordering: .acquiring)) }

        @inline(__always) func tableBase(_ generation: Int) -> UnsafeMutablePointer<AtomicWord64Storage> {
            UnsafeMutablePointer(bitPattern: table(generation).load(ordering: .acquiring))!
        }
    }

    /// - Parameter expectedVoters: sizes the first generation (8 slots at least); the ledger grows
    ///   past it as needed.
    init(expectedVoters: Int = 0, maxGenerations: Int = 40) {
        let wanted = max(8, expectedVoters * 4 / 3 + 1)
        firstCapacityLog2 = Int.bitWidth - (wanted - 1).leadingZeroBitCount
        self.maxGenerations = maxGenerations
    }

    deinit {
        if let block = block() {
            for generation in 0..<block.generations { free(UnsafeMutableRawPointer(bitPattern: block.table(generation).load(ordering: .acquiring))) }
            free(block.words)
        }
    }

    @inline(__always)
    private func block() -> Block? {
        UnsafeMutablePointer<AtomicWordStorage>(bitPattern: blockAddress.load(ordering: .acquiring))
            .map { Block(words: $0, maxGenerations: maxGenerations) }
    }

    /// The block, made with the first generation's table by the first claim (of two racing,
    /// the one that loses frees its own and takes the winner's).
    @inline(never)
    private func startedBlock() -> Block {
        let wordCount = 1 + 2 * maxGenerations
        let words = calloc(wordCount, 8)!.bindMemory(to: AtomicWordStorage.self, capacity: wordCount)
        let made = Block(words: words, maxGenerations: maxGenerations)
        made.table(0).store(Ledger.allocateTable(capacity: capacity(of: 0)), ordering: .relaxed)
        made.generationCount.store(1, ordering: .relaxed)
        let (exchanged, winner) = blockAddress.compareExchange(expected: 0, desired: UInt(bitPattern: words), ordering: .acquiringAndReleasing)
        if exchanged { return made }
        free(UnsafeMutableRawPointer(bitPattern: made.table(0).load(ordering: .relaxed)))
        free(words)
        return Block(words: UnsafeMutablePointer(bitPattern: winner)!, maxGenerations: maxGenerations)
    }

    /// The mask word of `voter`'s record. With `create`, claims a record (mask 0) if there is none;
    /// returns nil only when there is none and none was asked for, or the ledger cannot grow.
    func record(for voter: VoterKey, create: Bool) -> UnsafeAtomic<UInt64>? {
        guard let block = block() ?? (create ? startedBlock() : nil) else { return nil }
        while true {
            let newest = block.generations - 1
            // Newest first: each generation is twice the one before, so it holds about half the
            // records. Freezing in older ones is correct in any order. With one generation (a
            // presized ledger, or before it first grows) the claiming probe below also finds an
            // existing record, so a vote walks the slots once.
            if !(create && newest == 0), case .found(let mask) = probe(block, newest, voter, mode: .lookup) { return mask }
            for generation in stride(from: newest - 1, through: 0, by: -1) {
                if case .found(let mask) = probe(block, generation, voter, mode: create ? .freeze : .lookup) {
                    return mask
                }
            }
            guard create else { return nil }
            switch probe(block, newest, voter, mode: .claim) {
            case .found(let mask): return mask
            case .absent: preconditionFailure("a claim either finds, claims or retries")
            case .retry:
                // A newer generation exists, or the newest is full and one is being allocated.
                if !waitForGeneration(block, after: newest) { return nil }
            }
        }
    }

    /// Bytes and records held, for benchmarks and tests.
    var footprint: (records: Int, slots: Int, bytes: Int) {
        var records = 0
        var slots = 0
        guard let block = block() else { return (0, 0, 0) }
        for generation in 0..<block.generations {
            records += Int(block.occupancy(generation).load(ordering: .relaxed))
            slots += capacity(of: generation)
        }
        return (records, slots, slots * Ledger.wordsPerSlot * 8)
    }

    // MARK: - Probing

    private enum ProbeMode { case lookup, freeze, claim }
    private enum ProbeResult {
        case found(UnsafeAtomic<UInt64>)
        case absent
        case retry
    }

    private func probe(_ block: Block, _ generation: Int, _ voter: VoterKey, mode: ProbeMode) -> ProbeResult {
        let base = block.tableBase(generation)
        let capacity = capacity(of: generation)
        let indexMask = capacity - 1
        var index = Int(truncatingIfNeeded: voter.low) & indexMask
        var probes = 0
        while probes < capacity {
            let slot = base + index * Ledger.wordsPerSlot
            let head = UnsafeAtomic<UInt64>(at: slot)
            let state = head.load(ordering: .acquiring)
            switch state {
            case Ledger.empty:
                switch mode {
                case .lookup:
                    return .absent
                case .freeze:
                    if head.compareExchange(expected: Ledger.empty, desired: Ledger.frozen, ordering: .acquiringAndReleasing).exchanged {
                        return .absent
                    }
                    continue  // claimed or frozen meanwhile: look at this slot again
                case .claim:
                    if head.compareExchange(expected: Ledger.empty, desired: Ledger.busy, ordering: .acquiringAndReleasing).exchanged {
                        UnsafeAtomic<UInt64>(at: slot + 1).store(voter.low, ordering: .relaxed)
                        head.store(voter.high, ordering: .releasing)
                        noteClaim(block, in: generation)
                        return .found(UnsafeAtomic<UInt64>(at: slot + 2))
                    }
                    continue
                }
            case Ledger.busy:
                continue  // a claim is being published: look again
            case Ledger.frozen:
                return mode == .claim ? .retry : .absent
            default:
                if state == voter.high && UnsafeAtomic<UInt64>(at: slot + 1).load(ordering: .relaxed) == voter.low {
                    return .found(UnsafeAtomic<UInt64>(at: slot + 2))
                }
            }
            index = (index + 1) & indexMask
            probes += 1
        }
        return mode == .claim ? .retry : .absent
    }

    // MARK: - Growth

    /// Counts a claim; the claim that makes a generation 3/4 full allocates the next one.
    private func noteClaim(_ block: Block, in generation: Int) {
        let claimed = Int(block.occupancy(generation).loadThenWrappingIncrement(ordering: .relaxed)) + 1
        let capacity = capacity(of: generation)
        guard claimed == capacity - capacity / 4, generation + 1 < maxGenerations else { return }
        let next = generation + 1
        block.table(next).store(Ledger.allocateTable(capacity: self.capacity(of: next)), ordering: .releasing)
        block.generationCount.store(UInt(next + 1), ordering: .releasing)
    }

    /// Waits until a generation newer than `generation` is published; false if none ever will be.
    private func waitForGeneration(_ block: Block, after generation: Int) -> Bool {
        if generation + 1 >= maxGenerations { return false }
        while block.generations <= generation + 1 {
            sched_yield()
        }
        return true
    }

    private func capacity(of generation: Int) -> Int { 1 << (firstCapacityLog2 + generation) }


    private static func allocateTable(capacity: Int) -> UInt {
        guard let memory = calloc(capacity, wordsPerSlot * 8) else { fatalError("out of memory for a ledger of \(capacity) slots") }
        return UInt(bitPattern: memory)
    }
}
