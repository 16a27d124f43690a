import Foundation
import TallyTestSupport
import Testing

/// `tally-load` against a real daemon: a run that checks out, and one whose tallies do not.
@Suite(.serialized) struct LoadGeneratorTests {
    static var binary: URL { Daemon.binary.deletingLastPathComponent().appendingPathComponent("tally-load") }

    static func arguments(_ f: NativeFixture, _ extra: [String]) -> [String] {
        [
            "--url", "http://127.0.0.1:\(f.daemon.port)", "--organizer-token", NativeFixture.organizer,
            "--voter-secret", String(decoding: NativeFixture.secret, as: UTF8.self), "--connections", "8",
        ] + extra
    }

    /// Two generator threads, each with half the rate, voters and connections.
    @Test func aRunChecksItsTalliesAndWritesItsReport() throws {
        let f = try NativeFixture()
        let report = NSTemporaryDirectory() + "tally-load-\(UUID().uuidString).json"
        let run = try runToCompletion(LoadGeneratorTests.binary, LoadGeneratorTests.arguments(f, [
            "--duration", "1", "--profile", "steady:600", "--voters", "200", "--polls", "2", "--revote", "0.5",
            "--invalid", "0.1", "--threads", "2", "--report", report,
        ]))
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("tallies: every poll and option matches"))
        #expect(run.output.contains("t=1s"), "a progress line")

        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        #expect(json["sent"] as? Int == 600 && json["unsent"] as? Int == 0)
        let statuses = try #require(json["statuses"] as? [String: Int])
        #expect(statuses["200", default: 0] + statuses["422", default: 0] == 600 && statuses["422", default: 0] > 0, "\(statuses)")
        let tallies = try #require(json["tallies"] as? [String: Any])
        #expect(tallies["lost"] as? Int == 0 && tallies["extra"] as? Int == 0)
        // What the run read back is what the daemon reports now, and holds every voter who voted.
        let polls = try #require(tallies["polls"] as? [[String: Any]])
        #expect(polls.count == 2)
        var voters = 0
        for poll in polls {
            let id = try #require(poll["id"] as? String)
            let reported = try #require(poll["reported"] as? [Int])
            #expect(NativeFixture.votes(f.asOrganizer("GET", "/v1/polls/\(id)/results")) == reported)
            voters += reported.reduce(0, +)
        }
        #expect(voters > 0 && voters <= 200)
        let seconds = try #require(json["seconds"] as? [[String: Any]])
        #expect(seconds.reduce(0) { $0 + ($1["arrived"] as? Int ?? 0) } == 600)
    }

    @Test func aVoteTheRunDidNotMakeFailsTheCheck() throws {
        let f = try NativeFixture()
        let intruder = Thread {
            // The run's poll is the first one this fresh Redis hands out; vote in it once it exists.
            let deadline = Date().addingTimeInterval(5)
            while f.vote("1", "intruder", #"{"choices":[0]}"#).status != 200 && Date() < deadline { usleep(20_000) }
        }
        intruder.start()
        let run = try runToCompletion(LoadGeneratorTests.binary, LoadGeneratorTests.arguments(f, [
            "--duration", "1.5", "--profile", "steady:200", "--voters", "100",
        ]))
        #expect(run.status == 1, "\(run.output)")
        #expect(run.output.contains("MISMATCH — 0 acknowledged vote(s) missing, 1 vote(s) more than acknowledged"), "\(run.output)")
    }

    @Test func aVoteThroughAnotherDaemonIsCaughtInItsResultsAndInRedis() throws {
        let redis = try RedisServer()
        let driven = try NativeFixture(redis: redis)
        let other = try NativeFixture(redis: redis)
        let run = ["--duration", "1", "--profile", "steady:300", "--voters", "100"]
        let check = ["--check-redis", "127.0.0.1:\(redis.port)"] + run
        let clean = try runToCompletion(LoadGeneratorTests.binary, LoadGeneratorTests.arguments(driven, check))
        #expect(clean.status == 0, "\(clean.output)")

        // A vote through the other daemon in the next run's poll (the runs' polls are 1, 2, 3):
        // the driven daemon's results include it, and so does Redis.
        for (poll, arguments) in [("2", run), ("3", check)] {
            let intruder = Thread {
                let deadline = Date().addingTimeInterval(5)
                while other.vote(poll, "intruder", #"{"choices":[1]}"#).status != 200 && Date() < deadline { usleep(20_000) }
            }
            intruder.start()
            let caught = try runToCompletion(LoadGeneratorTests.binary, LoadGeneratorTests.arguments(driven, arguments))
            #expect(caught.status == 1 && caught.output.contains("1 vote(s) more than acknowledged"), "\(arguments): \(caught.output)")
        }
    }
}
