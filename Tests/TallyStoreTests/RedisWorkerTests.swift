import Foundation
import Synchronization
import TallyCore
import TallyStore
import TallyTestSupport
import Testing

/// The skeleton of the background workers, against a real Redis that comes and goes.
@Suite(.serialized) struct RedisWorkerTests {
    /// `stop` wakes a worker asleep for an hour (or until the year 9999, which Foundation cannot
    /// wait for in one go) and returns only once its thread has ended; `wake` cuts a sleep short.
    @Test func stopEndsTheThreadAndWakeCutsASleepShort() throws {
        let worker = RedisWorker(label: "test worker", redis: .single(host: "127.0.0.1", port: 1))
        let year9999: Timestamp = 253_402_300_799_000_000
        let rounds = SharedState()
        let ended = SharedState()
        worker.start { worker in
            while worker.sleep(until: rounds.value == 0 ? WallClock.now() + 3_600_000_000 : year9999) { rounds.set(rounds.value + 1) }
            usleep(100_000)  // a thread still busy when asked to stop
            ended.set()
        }
        usleep(50_000)
        #expect(rounds.value == 0)
        worker.wake()
        let woken = Date().addingTimeInterval(2)
        while rounds.value == 0 && Date() < woken { usleep(5_000) }
        #expect(rounds.value == 1, "wake cut the hour short")
        let stopping = Date()
        worker.stop()
        #expect(ended.isSet, "stop returned only once the thread ended")
        #expect(Date().timeIntervalSince(stopping) < 1)
    }

    /// A worker's connection is opened on first use and dropped on failure; each outage is logged
    /// once, however many attempts fail in it, and a success ends it.
    @Test func eachOutageIsLoggedOnce() throws {
        let redis = try RedisServer()
        let worker = RedisWorker(label: "test worker", redis: .single(host: "127.0.0.1", port: redis.port), readTimeoutMilliseconds: 500)
        let problems = Mutex<[String]>([])
        worker.onProblem = { line in problems.withLock { $0.append(line) } }
        func attempt() -> Bool {
            do throws(StoreError) {
                _ = try worker.connection().command(["PING"], key: "") { $0.string }
                worker.succeeded()
                return true
            } catch {
                worker.failed(error, retrying: "soon")
                return false
            }
        }
        #expect(attempt())
        redis.kill()
        #expect(!attempt() && !attempt() && !attempt())
        #expect(problems.withLock { $0.count } == 1)
        #expect(problems.withLock { $0.first?.hasPrefix("test worker: ") == true && $0.first?.hasSuffix("; retrying soon") == true })
        try redis.start()
        #expect(attempt(), "a new connection after the failure")
        redis.kill()
        #expect(!attempt())
        #expect(problems.withLock { $0.count } == 2, "a new outage")
    }
}
