// In-process throughput of the validated vote path: registry lookup, rule checks, ledger
// compare-and-swap and counter update, exactly as an event loop calls it. Release builds only:
//
//   swift run -c release tally-bench-engine [voters] [rounds] [threads, e.g. 1,2]
//
// For 1 and 2 threads (or those given), and a ledger grown from its default size or presized,
// prints votes/s for first votes (ledger inserts), revotes (ballot CAS), identical re-sends, and
// every thread voting for the same voters; then the ledger's bytes per ballot. One thread runs the
// same instructions every time, so callgrind can count them where a shared machine's clock cannot.
import Atomics
import Dispatch
import TallyCore

#if canImport(Glibc)
import Glibc
#endif

let voterCount = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 1_000_000
let rounds = CommandLine.arguments.dropFirst(2).first.flatMap(Int.init) ?? 5
let threadCounts = CommandLine.arguments.dropFirst(3).first.map { $0.split(separator: ",").compactMap { Int($0) } } ?? [1, 2]
let keys = (0..<voterCount).map { VoterKey(id: "voter-\($0)") }
let optionCount = 8

func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Each of `threads` threads votes for its slice of the voters (all of them when `shared`), for
/// `rounds` rounds, choosing `option(voter, round)`; all start together. Returns votes/s over all
/// threads and how many votes were accepted (changed a ballot).
func measure(
    _ registry: PollRegistry, threads: Int, rounds: Int, shared: Bool = false,
    option: @escaping @Sendable (Int, Int) -> Int
) -> (perSecond: Double, accepted: Int) {
    let group = DispatchGroup()
    nonisolated(unsafe) let accepted = UnsafeMutablePointer<Int>.allocate(capacity: threads)
    let ready = ManagedAtomic(0)
    let go = ManagedAtomic(false)
    let start = UnsafeMutablePointer<Double>.allocate(capacity: 1)
    for thread in 0..<threads {
        nonisolated(unsafe) let reader = registry.reader(thread)
        let voters = shared ? 0..<voterCount : (voterCount * thread / threads)..<(voterCount * (thread + 1) / threads)
        DispatchQueue.global().async(group: group) {
            var count = 0
            let now = WallClock.now()
            // A start barrier, so thread start-up is not timed.
            ready.wrappingIncrement(ordering: .relaxed)
            while !go.load(ordering: .acquiring) {}
            for round in 0..<rounds {
                for voter in voters {
                    var input = BallotInput()
                    input.add(option(voter, round))
                    if case .accepted = reader.vote(input, poll: 1, by: keys[voter], now: now, counting: true) { count += 1 }
                }
            }
            accepted[thread] = count
        }
    }
    while ready.load(ordering: .relaxed) < threads {}
    start.pointee = monotonicSeconds()
    go.store(true, ordering: .releasing)
    group.wait()
    let elapsed = monotonicSeconds() - start.pointee
    let total = (0..<threads).reduce(0) { $0 + accepted[$1] }
    accepted.deallocate()
    start.deallocate()
    let attempted = voterCount * rounds * (shared ? threads : 1)
    return (Double(attempted) / elapsed, total)
}

func millions(_ rate: Double) -> String {
    let tenths = Int((rate / 100_000).rounded())
    return "\(tenths / 10).\(tenths % 10) M/s"
}

print("voters \(voterCount), rounds \(rounds), \(optionCount) options, single choice, revote on")
for threads in threadCounts {
    for presized in [false, true] {
        let registry = PollRegistry(shardCount: threads, readers: threads)
        try! registry.install(
            id: 1,
            definition: PollDefinition(
                question: "Best act?", options: (1...optionCount).map { "act \($0)" },
                rules: PollRules(maxVotes: 1, revote: true), expectedVoters: presized ? voterCount : 256),
            lifecycle: .open)
        let first = measure(registry, threads: threads, rounds: 1) { voter, _ in voter % optionCount }
        let revote = measure(registry, threads: threads, rounds: rounds) { voter, round in (voter + round + 1) % optionCount }
        let resend = measure(registry, threads: threads, rounds: rounds) { voter, _ in (voter + rounds) % optionCount }
        let contended = measure(registry, threads: threads, rounds: rounds, shared: true) { voter, round in (voter + round) % optionCount }
        precondition(first.accepted == voterCount && revote.accepted == voterCount * rounds && resend.accepted == 0)
        let footprint = registry.poll(1)!.ledgerFootprint
        print(
            "threads \(threads), ledger \(presized ? "presized" : "grown   "): first vote \(millions(first.perSecond)), "
                + "revote \(millions(revote.perSecond)), identical re-send \(millions(resend.perSecond)), "
                + "all threads same voters \(millions(contended.perSecond)); "
                + "\(footprint.bytes / footprint.records) B per ballot (24 B records, \(footprint.slots) slots)")
    }
}
