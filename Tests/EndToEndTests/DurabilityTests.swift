import Foundation
import Synchronization
import TallyTestSupport
import Testing

/// "A 200 means stored, a 503 means not stored", against a real Redis run from the shipped
/// `deploy/redis.conf`, with its faults made real: fsyncs slowed by strace, a SIGKILL, a SIGSTOP
/// longer than `timeout_ms`, and Redis' persistence settings changing under the daemon.
@Suite(.serialized) struct DurabilityTests {
    /// Slows every `fdatasync` of `redis` (all its threads) by `milliseconds`, as a slow disk
    /// would; ends when Redis does.
    static func slowFsyncs(of redis: RedisServer, milliseconds: Int) throws -> Process {
        let strace = Process()
        strace.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        strace.arguments = [
            "-f", "-qq", "-o", "/dev/null", "-e", "trace=fdatasync,fsync", "-e",
            "inject=fdatasync:delay_enter=\(milliseconds * 1_000)", "-p", "\(redis.processIdentifier)",
        ]
        try strace.run()
        usleep(300_000)  // attached to every thread
        #expect(strace.isRunning, "strace attached")
        return strace
    }

    /// `INFO persistence` as fields.
    static func persistence(_ redis: RedisServer) -> [String: String] {
        let lines = ((try? redis.cli(["INFO", "persistence"])) ?? "").split(whereSeparator: \.isNewline)
        return Dictionary(lines.compactMap { line in
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }, uniquingKeysWith: { $1 })
    }

    /// The shipped Redis (`appendfsync always`) on a slow disk, SIGKILLed while votes flow, at a
    /// moment when Redis has replied to writes its log does not have yet if it ever does (with
    /// `everysec`: a background fsync pending and a log buffer waiting behind it). Every vote
    /// answered 200 is there after the restart. With `everysec` this loses votes (shown in #19).
    @Test func aRedisKilledWhileItsDiskLagsLosesNoAcknowledgedVote() throws {
        let redis = try RedisServer()
        let f = try NativeFixture(config: WriteThroughTests.config, redis: redis)
        let poll = try f.create()
        let strace = try DurabilityTests.slowFsyncs(of: redis, milliseconds: 300)
        let killed = SharedState()
        DispatchQueue.global().async {
            usleep(500_000)
            // The window `everysec` loses: an fsync pending and log data held back behind it.
            let deadline = Date().addingTimeInterval(2)
            while Date() < deadline {
                let info = DurabilityTests.persistence(redis)
                if info["aof_pending_bio_fsync"] == "1" && (Int(info["aof_buffer_length"] ?? "") ?? 0) > 0 { break }
                usleep(2_000)
            }
            // Redis first, then its tracer: a tracer detaching would let the delayed fsyncs
            // finish and close the window.
            kill(redis.processIdentifier, SIGKILL)
            kill(strace.processIdentifier, SIGKILL)
            redis.kill()
            killed.set()
        }
        let sent = WriteThroughTests.voteUntil(port: f.daemon.port, poll: poll, prefix: "slowdisk", threads: 32) { killed.isSet }
        strace.waitUntilExit()
        try redis.start()
        #expect(sent.filter { $0.status == 200 }.count >= 20, "votes were acknowledged while the disk lagged")
        try WriteThroughTests.expectConsistent(redis, poll, sent)
    }

    /// Redis stalls (SIGSTOP) longer than `timeout_ms`: the daemon answers the votes waiting for it
    /// 503, and when Redis resumes and runs the calls it had already received, it stores none of
    /// them (each call carries its deadline in Redis' clock). Every 200 is stored.
    @Test func aVoteAnswered503BecauseRedisStalledIsNeverStoredLater() throws {
        let redis = try RedisServer()
        let config = WriteThroughTests.config + "\n[redis]\naddress = \"127.0.0.1:\(redis.port)\"\ntimeout_ms = 300\n"
        let f = try NativeFixture(config: config, redis: redis)
        let poll = try f.create()
        let done = SharedState()
        DispatchQueue.global().async {
            usleep(300_000)
            redis.pause()
            usleep(1_000_000)
            redis.resume()
            usleep(800_000)
            done.set()
        }
        let sent = WriteThroughTests.voteUntil(port: f.daemon.port, poll: poll, prefix: "stall", threads: 8) { done.isSet }
        let refused = sent.filter { $0.status == 503 }
        #expect(refused.count > 0, "votes waiting when Redis stalled got 503")
        #expect(sent.allSatisfy { $0.status == 200 || $0.status == 503 }, "\(Set(sent.map(\.status)))")
        let ballots = try WriteThroughTests.storedBallots(redis, poll)
        let storedAnyway = refused.filter { ballots[$0.voter] != nil }
        #expect(storedAnyway.isEmpty, "answered 503 but stored: \(storedAnyway.count) of \(refused.count)")
        try WriteThroughTests.expectConsistent(redis, poll, sent)
        // The daemon's own counts agree with Redis: nothing refused was counted here either.
        let results = try f.daemon.client().request("GET", "/v1/polls/\(poll)/results", headers: ["Authorization": "Bearer \(NativeFixture.organizer)"])!
        let counts = try WriteThroughTests.storedCounts(redis, poll)
        #expect(NativeFixture.votes(results) == (0..<4).map { counts["\($0)"] ?? 0 })
    }

    /// `tallyd run` reads Redis' persistence at start and after every reconnect: it logs what a 200
    /// survives, exports it in /metrics, and takes no votes from a Redis without an append-only
    /// file unless `allow_volatile`.
    @Test func theDaemonSaysWhatA200SurvivesAndRefusesAVolatileRedis() throws {
        func policy(_ daemon: Daemon) -> String? {
            let metrics = (try? daemon.client().request("GET", "/metrics")?.text) ?? ""
            return metrics.split(separator: "\n").first { $0.hasPrefix("tally_redis_durability{") && $0.hasSuffix(" 1") }
                .map { String($0.split(separator: "\"")[1]) }
        }
        func waitFor(_ wanted: String, _ daemon: Daemon) -> Bool {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if policy(daemon) == wanted { return true }
                usleep(50_000)
            }
            return false
        }

        let volatile = try RedisServer.volatile()
        #expect(performing: { _ = try Daemon(config: NativeFixture.config, redis: volatile) }, throws: { error in
            "\(error)".contains("has no append-only file: a restart of Redis would lose acknowledged votes")
        })
        let allowed = try NativeFixture(config: NativeFixture.config + "\n[redis]\naddress = \"127.0.0.1:\(volatile.port)\"\nallow_volatile = true\n", redis: volatile)
        #expect(waitFor("volatile", allowed.daemon))
        let poll = try allowed.create()
        #expect(allowed.vote(poll, "ann", #"{"choices":[0]}"#).status == 200, "a rehearsal against a volatile Redis, by choice")

        // The shipped settings; then Redis comes back with everysec, then without its log.
        let redis = try RedisServer()
        let f = try NativeFixture(config: WriteThroughTests.config, redis: redis)
        #expect(waitFor("always", f.daemon))
        let id = try f.create()
        redis.kill()
        redis.settings = ["--appendfsync", "everysec"]
        try redis.start()
        #expect(waitFor("everysec", f.daemon), "read again after the reconnect")
        #expect(f.vote(id, "bob", #"{"choices":[1]}"#).status == 200)
        redis.kill()
        redis.settings = ["--appendonly", "no"]
        try redis.start()
        #expect(waitFor("volatile", f.daemon))
        let vote = try f.daemon.client().request(
            "POST", "/v1/polls/\(id)/votes", headers: ["X-Voter-Id": "cat"], body: #"{"choices":[2]}"#)
        #expect(vote?.status == 503 && vote?.headers["retry-after"] != nil, "no votes without a log")
        #expect(try f.daemon.client().request("GET", "/readyz")?.status == 503)
        let log = f.daemon.stop().log
        #expect(log.contains("Redis at 127.0.0.1:\(redis.port): appendfsync always: a 200 survives a Redis crash and a power loss"), "\(log)")
        #expect(log.contains("connected to Redis at 127.0.0.1:\(redis.port): appendfsync everysec: up to ~2 s"), "\(log)")
        #expect(log.contains("has no append-only file; votes are refused (503)"), "\(log)")
    }
}
