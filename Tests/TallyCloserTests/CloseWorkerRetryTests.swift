import Foundation
import Synchronization
import TallyCloser
import TallyCore
import TallyStore
import TallyTestSupport
import Testing

/// The close worker in process, against a real Redis: a burst of polls ending together, and a
/// Redis that is away when a poll ends.
@Suite(.serialized) struct CloseWorkerRetryTests {
    @Test func aBurstLargerThanOneCallIsFinalizedThroughPipelinedCallsOncePerPoll() throws {
        let redis = try RedisServer()
        let registry = PollRegistry(shardCount: 1, readers: 1)
        let count = 5 * CloseScript.pollsPerCall + 17
        let closesAt = WallClock.now() + 300_000
        let definition = PollDefinition(question: "Q", options: ["a", "b", "c"], rules: PollRules(closesAt: closesAt))
        let store = try BlockingRedis(host: "127.0.0.1", port: redis.port)
        for id in 1...PollID(count) { try store.command(StoredPoll.saveCommand(id: id, definition: definition, lifecycle: .open)) { _ in } }
        try store.command(["HSET", KeySchema.poll(5), "1", "2", "2", "1", "voters", "3"]) { _ in }
        try registry.install((1...PollID(count)).map { ($0, definition, .open, 1) })

        let worker = CloseWorker(redis: .single(host: "127.0.0.1", port: redis.port), registry: registry)
        let finalized = Mutex<[PollID]>([])
        worker.onFinalized = { id, _ in finalized.withLock { $0.append(id) } }
        worker.start()
        defer { worker.stop() }
        let deadline = Date().addingTimeInterval(5)
        while finalized.withLock({ $0.count }) < count && Date() < deadline { usleep(10_000) }

        #expect(finalized.withLock { $0.sorted() } == Array(1...PollID(count)))
        #expect(registry.polls { $0.lifecycle == .open }.isEmpty)
        let events = try redis.cli(["XRANGE", KeySchema.closedEvents, "-", "+"]).split(separator: "\n")
        #expect(events.filter { $0 == "poll" }.count == count, "one event per poll")
        let rules = try redis.cli(["HMGET", KeySchema.poll(5), "state", "finalVoters", "finalCounts"])
        #expect(rules == "closed\n3\n[0,2,1]")
    }

    /// The close script trims the events stream once per call (to about the number it is given).
    @Test func theEventsStreamIsTrimmedToAboutWhatIsKept() throws {
        let redis = try RedisServer()
        let closesAt = WallClock.now() - 1_000
        let definition = PollDefinition(question: "Q", options: ["a", "b"], rules: PollRules(closesAt: closesAt))
        let store = try BlockingRedis(host: "127.0.0.1", port: redis.port)
        let ids = 1...PollID(300)
        for id in ids { try store.command(StoredPoll.saveCommand(id: id, definition: definition, lifecycle: .open)) { _ in } }
        let keys = ids.map { KeySchema.poll($0) }
        let perPoll = ids.flatMap { ["\($0)", "\(closesAt)", "2"] }
        let verdicts = try redis.cli(["EVAL", CloseScript.source, "\(1 + ids.count)", KeySchema.closedEvents] + keys + ["10"] + perPoll)
        #expect(verdicts.split(separator: "\n").allSatisfy { $0 == "finalized" })
        let kept = Int(try redis.cli(["XLEN", KeySchema.closedEvents])) ?? -1
        #expect(kept >= 10 && kept < 300, "\(kept) events kept")
    }

    /// One call freezes each poll's own counts, whatever the option counts of the polls before it.
    @Test func pollsOfDifferentSizesInOneCallEachFreezeTheirOwnCounts() throws {
        let redis = try RedisServer()
        let closesAt = WallClock.now() - 1_000
        let store = try BlockingRedis(host: "127.0.0.1", port: redis.port)
        let options: [PollID: [String]] = [1: ["a", "b", "c", "d"], 2: ["a", "b"], 3: ["a", "b", "c"]]
        for (id, titles) in options {
            let definition = PollDefinition(question: "Q", options: titles, rules: PollRules(closesAt: closesAt))
            try store.command(StoredPoll.saveCommand(id: id, definition: definition, lifecycle: .open)) { _ in }
        }
        try store.command(["HSET", KeySchema.poll(1), "0", "4", "3", "1", "voters", "5"]) { _ in }
        try store.command(["HSET", KeySchema.poll(2), "1", "7", "voters", "7"]) { _ in }
        let ids: [PollID] = [1, 2, 3]
        let perPoll = ids.flatMap { ["\($0)", "\(closesAt)", "\(options[$0]!.count)"] }
        let verdicts = try redis.cli(["EVAL", CloseScript.source, "4", KeySchema.closedEvents] + ids.map { KeySchema.poll($0) } + ["10"] + perPoll)
        #expect(verdicts == "finalized\nfinalized\nfinalized")
        let frozen = try ids.map { try redis.cli(["HMGET", KeySchema.poll($0), "finalVoters", "finalCounts"]) }
        #expect(frozen == ["5\n[4,0,0,1]", "7\n[0,7]", "0\n[0,0,0]"])
    }

    /// Schemathesis found this: an end date in the year 8682 made the worker's wait trap.
    @Test func anEndDateCenturiesAwayIsWaitedForWithoutCrashing() throws {
        let redis = try RedisServer()
        let registry = PollRegistry(shardCount: 1, readers: 1)
        let store = try BlockingRedis(host: "127.0.0.1", port: redis.port)
        let farAway = PollDefinition(question: "Q", options: ["a", "b"], rules: PollRules(closesAt: 211_800_000_000_000_000))
        try store.command(StoredPoll.saveCommand(id: 1, definition: farAway, lifecycle: .open)) { _ in }
        try registry.install(id: 1, definition: farAway, lifecycle: .open)
        let worker = CloseWorker(redis: .single(host: "127.0.0.1", port: redis.port), registry: registry)
        let finalized = Mutex<[PollID]>([])
        worker.onFinalized = { id, _ in finalized.withLock { $0.append(id) } }
        worker.start()
        defer { worker.stop() }
        usleep(100_000)  // the worker now waits for the year 8682

        let soon = PollDefinition(question: "Q", options: ["a", "b"], rules: PollRules(closesAt: WallClock.now() + 200_000))
        try store.command(StoredPoll.saveCommand(id: 2, definition: soon, lifecycle: .open)) { _ in }
        try registry.install(id: 2, definition: soon, lifecycle: .open)
        let deadline = Date().addingTimeInterval(5)
        while finalized.withLock({ $0.isEmpty }) && Date() < deadline { usleep(10_000) }
        #expect(finalized.withLock { $0 } == [2])
        #expect(registry.poll(1)?.lifecycle == .open)
    }

    @Test func aPollDueWhileRedisIsDownIsFinalizedOnceRedisIsBack() throws {
        let redis = try RedisServer()
        let registry = PollRegistry(shardCount: 1, readers: 1)
        let closesAt = WallClock.now() + 200_000
        let definition = PollDefinition(question: "Q", options: ["a", "b"], rules: PollRules(closesAt: closesAt))
        let store = try BlockingRedis(host: "127.0.0.1", port: redis.port)
        try store.command(StoredPoll.saveCommand(id: 7, definition: definition, lifecycle: .open)) { _ in }
        try registry.install(id: 7, definition: definition, lifecycle: .open)

        let worker = CloseWorker(redis: .single(host: "127.0.0.1", port: redis.port), registry: registry, retryMilliseconds: 50)
        let finalized = Mutex<[PollID]>([])
        let problems = Mutex(0)
        worker.onFinalized = { id, _ in finalized.withLock { $0.append(id) } }
        worker.onProblem = { _ in problems.withLock { $0 += 1 } }
        worker.start()
        defer { worker.stop() }
        redis.kill()
        usleep(500_000)
        #expect(problems.withLock { $0 } > 0, "the worker tried while Redis was down")
        #expect(registry.poll(7)?.lifecycle == .open, "not closed without Redis' word")
        try redis.start()

        let deadline = Date().addingTimeInterval(3)
        while finalized.withLock({ $0.isEmpty }) && Date() < deadline { usleep(10_000) }
        #expect(finalized.withLock { $0 } == [7])
        #expect(registry.poll(7)?.lifecycle == .closed)
        #expect(try redis.cli(["XLEN", KeySchema.closedEvents]) == "1")
        #expect(try redis.cli(["HGET", KeySchema.poll(7), "state"]) == "closed")
    }
}
