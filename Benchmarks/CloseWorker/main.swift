// Close-worker benchmark: the real CloseWorker against a real Redis (its port as the argument), or a
// Redis Cluster (`cluster:PORT,PORT,…`, its masters' ports: each poll is finalized on its slot's
// master and its event appended on the stream's, `ClosedEvents`).
//   1. `polls` polls ending in the same instant: how long after it the last one is finalized.
//   2. `polls` polls ending at random times within one second (DESIGN's "ending in the same second"
//      read literally): lateness p50/p99/max.
//   3. `scattered` polls ending at random times over 5 s: finalization lateness p50/p99/max.
// Lateness is Redis' `closedAt` (its clock when the close script ran) minus the end date.
//
//   swift run -c release tally-bench-closer REDIS_PORT|cluster:PORT,… [polls] [scattered]
import Foundation
import Synchronization
import TallyCloser
import TallyCore
import TallyStore

let arguments = CommandLine.arguments
let endpoint: RedisEndpoint
if arguments.count >= 2, arguments[1].hasPrefix("cluster:") {
    endpoint = .cluster(seeds: arguments[1].dropFirst(8).split(separator: ",").map { "127.0.0.1:\($0)" })
} else if arguments.count >= 2, let port = Int(arguments[1]) {
    endpoint = .single(host: "127.0.0.1", port: port)
} else {
    print("usage: tally-bench-closer REDIS_PORT|cluster:PORT,… [polls] [scattered]")
    exit(2)
}
let sameInstant = arguments.count > 2 ? Int(arguments[2])! : 100_000
let scattered = arguments.count > 3 ? Int(arguments[3])! : 10_000
let redis = try BlockingCluster(endpoint)
/// Each master, for its CPU time.
let masters = try redis.map.masters.map { address in
    let port = Int(address.split(separator: ":").last!)!
    return try BlockingRedis(host: "127.0.0.1", port: port)
}

/// Writes polls to Redis as the admin API would, ending in an hour; installs them in `registry`.
@MainActor func createPolls(_ ids: ClosedRange<PollID>, in registry: PollRegistry) throws {
    let definition = PollDefinition(question: "Poll", options: ["a", "b", "c", "d"], rules: PollRules(closesAt: WallClock.now() + 3_600_000_000))
    for chunk in Array(ids).chunked(1_000) {
        try redis.pipeline(chunk.map { (StoredPoll.saveCommand(id: $0, definition: definition, lifecycle: .open), KeySchema.poll($0)) }) { _, _ in }
    }
    try registry.install(ids.map { ($0, definition, .open, 1) })
}

/// Moves each poll's end date to `closing(id)`, in Redis and in `registry` (writing 100 000 polls
/// takes longer than the benchmark waits, so end dates are set once they are all written), and
/// gives each poll 10 voters.
@MainActor func setEndDates(_ ids: ClosedRange<PollID>, _ closing: (PollID) -> Timestamp, in registry: PollRegistry) throws {
    let ends = ids.map { ($0, closing($0)) }
    for chunk in ends.chunked(1_000) {
        // Each poll has votes, as real ones do: its tallies are part of what is frozen.
        try redis.pipeline(chunk.map { id, end in
            (["HSET", KeySchema.poll(id), "closesAt", "\(end)", "voters", "10", "0", "4", "1", "3", "2", "2", "3", "1"], KeySchema.poll(id))
        }) { _, _ in }
    }
    try registry.install(ends.map { id, end in
        var definition = registry.poll(id)!.definition
        definition.rules.closesAt = end
        return (id, definition, .open, 1)
    })
}

/// CPU time each master has used so far, µs (INFO cpu: main thread and its I/O, AOF writes included).
@MainActor func redisCPUMicroseconds() throws -> [Int] {
    try masters.map { master in
        let stats = try master.command(["INFO", "cpu"]) { $0.string ?? "" }
        let seconds = stats.split(whereSeparator: \.isNewline).compactMap { line -> Double? in
            let field = line.split(separator: ":")
            guard field.count == 2, field[0] == "used_cpu_user" || field[0] == "used_cpu_sys" else { return nil }
            return Double(field[1].trimmingCharacters(in: .whitespaces))
        }
        return Int(seconds.reduce(0, +) * 1_000_000)
    }
}

/// CPU time this process has used, µs.
func processCPUMicroseconds() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + Int(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

/// Runs a worker until `count` polls are finalized; returns each event's lateness in µs, and the
/// CPU time of Redis (every master's, and the busiest one's) and of the worker meanwhile.
@MainActor func finalize(_ count: Int, _ registry: PollRegistry) throws -> (lateness: [Int64], redisMicroseconds: Int, busiestMaster: Int, workerMicroseconds: Int) {
    let before = try redis.command(["XLEN", KeySchema.closedEvents], key: KeySchema.closedEvents) { Int($0.integer ?? 0) }
    let redisBefore = try redisCPUMicroseconds()
    let done = Mutex(0)
    let cpuBefore = processCPUMicroseconds()
    let worker = CloseWorker(redis: endpoint, registry: registry)
    worker.onFinalized = { _, _ in done.withLock { $0 += 1 } }
    worker.start()
    if let first = registry.polls(where: { _ in true }).compactMap(\.definition.rules.closesAt).min(), first < WallClock.now() {
        print("warning: the worker started \((WallClock.now() - first) / 1_000) ms after the first end date; lateness includes its start")
    }
    while done.withLock({ $0 }) < count { usleep(1_000) }
    worker.stop()
    let workerMicroseconds = processCPUMicroseconds() - cpuBefore
    let perMaster = zip(try redisCPUMicroseconds(), redisBefore).map { $0 - $1 }
    // Lateness from the events this run appended.
    var lateness: [Int64] = []
    var start = "-"
    while true {
        let page: [(id: String, closesAt: Int64, closedAt: Int64)] = try redis.command(
            ["XRANGE", KeySchema.closedEvents, start, "+", "COUNT", "10000"], key: KeySchema.closedEvents
        ) { reply in
            (0..<reply.count).map { n in
                let fields = reply[n][1]
                var values: [String: String] = [:]
                for f in stride(from: 0, to: fields.count - 1, by: 2) { values[fields[f].string ?? ""] = fields[f + 1].string }
                return (reply[n][0].string ?? "", Int64(values["closesAt"] ?? "") ?? 0, Int64(values["closedAt"] ?? "") ?? 0)
            }
        }
        guard let last = page.last else { break }
        lateness += page.map { $0.closedAt - $0.closesAt }
        start = "(" + last.id
    }
    return (Array(lateness.dropFirst(before)), perMaster.reduce(0, +), perMaster.max() ?? 0, workerMicroseconds)
}

func percentile(_ sorted: [Int64], _ p: Double) -> Double {
    Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1_000
}

// 1. Every poll ends in the same instant.
let registry = PollRegistry(shardCount: 1, readers: 1)
let burstPolls = 1...PollID(sameInstant)
try createPolls(burstPolls, in: registry)
// Far enough ahead that the worker is running and has scheduled every poll before it (as in a
// daemon, where the worker runs long before an end date).
let sharedEnd = WallClock.now() + 5_000_000
try setEndDates(burstPolls, { _ in sharedEnd }, in: registry)
let (burstLateness, burstRedis, burstBusiest, burstWorker) = try finalize(sameInstant, registry)
let burst = burstLateness.sorted()
print(String(format: "%d polls ending in the same instant: all finalized %.0f ms after it (p50 %.0f ms); CPU: Redis %.0f ms (%.1f µs per poll), worker %.0f ms (%.1f µs per poll)",
             sameInstant, percentile(burst, 1), percentile(burst, 0.5), Double(burstRedis) / 1_000, Double(burstRedis) / Double(sameInstant),
             Double(burstWorker) / 1_000, Double(burstWorker) / Double(sameInstant)))
// Per Redis core: what one master's CPU finalizes per second, and the busiest master's share.
print(String(format: "  finalizations per second of Redis CPU: %.0f per core; over %d master(s), the busiest did %.0f%% of the work",
             Double(sameInstant) / (Double(burstRedis) / 1_000_000), masters.count, 100 * Double(burstBusiest) / Double(max(burstRedis, 1))))

/// Creates the polls `ids`, ending at random times over `window` µs from `lead` µs on, and returns
/// their finalization lateness, sorted, and Redis' CPU time per poll (µs).
@MainActor func latenessOfPolls(_ ids: ClosedRange<PollID>, endingOver window: Int64, startingIn lead: Int64) throws -> (lateness: [Int64], redisPerPoll: Double) {
    let registry = PollRegistry(shardCount: 1, readers: 1)
    try createPolls(ids, in: registry)
    let start = WallClock.now() + lead
    try setEndDates(ids, { _ in start + Int64.random(in: 0..<window) }, in: registry)
    let (lateness, redisMicroseconds, _, _) = try finalize(ids.count, registry)
    return (lateness.sorted(), Double(redisMicroseconds) / Double(ids.count))
}

// 2. As many polls ending at random times within one second.
let secondPolls = burstPolls.upperBound + 1...burstPolls.upperBound + PollID(sameInstant)
let (withinSecond, withinSecondRedis) = try latenessOfPolls(secondPolls, endingOver: 1_000_000, startingIn: 5_000_000)
print(String(format: "%d polls ending at random times within one second: lateness p50 %.0f ms, p99 %.0f ms, max %.0f ms; CPU: Redis %.1f µs per poll",
             sameInstant, percentile(withinSecond, 0.5), percentile(withinSecond, 0.99), percentile(withinSecond, 1), withinSecondRedis))

// 3. Polls ending at random times over 5 s.
let spreadPolls = secondPolls.upperBound + 1...secondPolls.upperBound + PollID(scattered)
let random = try latenessOfPolls(spreadPolls, endingOver: 5_000_000, startingIn: 500_000).lateness
print(String(format: "%d polls ending at random times over 5 s: lateness p50 %.2f ms, p99 %.2f ms, max %.2f ms",
             scattered, percentile(random, 0.5), percentile(random, 0.99), percentile(random, 1)))
