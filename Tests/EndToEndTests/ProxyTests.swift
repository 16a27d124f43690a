import Foundation
import TallyTestSupport
import Testing

/// The shipped `deploy/nginx.conf` and `deploy/haproxy.cfg`, run by the real proxies in front of
/// three daemons, one of which has lost its Redis: every vote through the proxy is answered 200
/// (a 503 is retried on another daemon) and stored once; a poll creation is never resent.
@Suite(.serialized) struct ProxyTests {
    /// A proxy started from a shipped configuration, with only its addresses changed.
    final class Proxy {
        let process = Process()
        let port: Int
        let directory: String

        /// `kind`: "nginx" or "haproxy"; `daemons`: the three upstream ports, in the file's order.
        init(_ kind: String, daemons: [Int]) throws {
            port = try RedisServer.freePort()
            directory = NSTemporaryDirectory() + "tally-\(kind)-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let shipped = RedisServer.shippedConfig.replacingOccurrences(of: "redis.conf", with: kind == "nginx" ? "nginx.conf" : "haproxy.cfg")
            var text = try String(contentsOfFile: shipped, encoding: .utf8)
            for (index, daemon) in daemons.enumerated() {
                #expect(text.contains("127.0.0.1:808\(index + 1)"))
                text = text.replacingOccurrences(of: "127.0.0.1:808\(index + 1)", with: "127.0.0.1:\(daemon)")
            }
            if kind == "nginx" {
                #expect(text.contains("listen 80;"))
                try text.replacingOccurrences(of: "listen 80;", with: "listen 127.0.0.1:\(port);")
                    .write(toFile: directory + "/tally.conf", atomically: true, encoding: .utf8)
                try """
                    daemon off;
                    pid \(directory)/nginx.pid;
                    error_log \(directory)/error.log;
                    events {}
                    http {
                        access_log off;
                        include \(directory)/tally.conf;
                    }
                    """.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
                process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
                process.arguments = ["-p", directory, "-c", directory + "/nginx.conf"]
            } else {
                #expect(text.contains("bind :80") && text.contains("maxconn 100000") && text.contains("check inter 1s"))
                // This sandbox's hard limit of file descriptors (20 000) is below what 100 000
                // connections need, which HAProxy refuses at start. And the health checks would
                // take the broken daemon out of rotation as soon as it lost Redis, leaving the
                // retries untested: after the first round they wait here.
                try text.replacingOccurrences(of: "bind :80", with: "bind 127.0.0.1:\(port)")
                    .replacingOccurrences(of: "maxconn 100000", with: "maxconn 5000")
                    .replacingOccurrences(of: "check inter 1s", with: "check inter 1h")
                    .write(toFile: directory + "/haproxy.cfg", atomically: true, encoding: .utf8)
                process.executableURL = URL(fileURLWithPath: "/usr/sbin/haproxy")
                process.arguments = ["-db", "-f", directory + "/haproxy.cfg"]
            }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(10)
            while (try? RawClient(port: port)) == nil && Date() < deadline { usleep(20_000) }
        }

        /// Stops the proxy (its workers too) and removes its folder.
        func stop() {
            process.terminate()
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// The 5xx answers a daemon wrote, from its /metrics.
    static func serverErrors(_ daemon: Daemon) throws -> Int {
        let metrics = try daemon.client().request("GET", "/metrics")?.text ?? ""
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("tally_http_responses_total{class=\"5xx\"}") } ?? ""
        return Int(line.split(separator: " ").last ?? "") ?? 0
    }

    @Test(arguments: ["nginx", "haproxy"])
    func votesRefusedBecauseADaemonLostItsRedisAreRetriedOnAnotherAndStoredOnce(_ kind: String) throws {
        let redis = try RedisServer()
        let lost = try RedisServer()
        let broken = try NativeFixture(config: NativeFixture.config, redis: lost)
        let daemons = [broken.daemon] + (0..<2).map { _ in try! Daemon(config: NativeFixture.config, redis: redis) }
        let proxy = try Proxy(kind, daemons: daemons.map(\.port))
        defer { proxy.stop() }
        usleep(500_000)  // HAProxy's first health checks find every daemon ready
        lost.kill()
        let deadline = Date().addingTimeInterval(5)
        while try broken.daemon.client().request("GET", "/readyz")?.status != 503 && Date() < deadline { usleep(20_000) }
        let client = try RawClient(port: proxy.port)
        let organizer = ["Authorization": "Bearer \(NativeFixture.organizer)"]

        // Creates are not resent: each is created once, or refused by the daemon that lost Redis.
        var created: [String] = []
        var creates: [Int] = []
        for _ in 0..<6 {
            let response = try #require(client.request("POST", "/v1/polls", headers: organizer, body: #"{"question":"Q","options":["a","b","c","d"]}"#))
            creates.append(response.status)
            if response.status == 201, let id = response.json?["id"] as? String { created.append(id) }
        }
        #expect(creates.allSatisfy { $0 == 201 || $0 == 503 }, "\(creates)")
        #expect(creates.contains(503), "a create that reached the broken daemon is not resent: \(creates)")
        #expect(try redis.cli(["GET", "tally:next-poll-id"]) == "\(created.count)", "no poll created twice")
        let poll = try #require(created.first)

        // Every vote through the proxy is stored; the broken daemon refused some, so they were retried.
        let voters = (0..<60).map { "proxied-\($0)" }
        var statuses: [Int] = []
        for (index, voter) in voters.enumerated() {
            let response = client.request(
                "POST", "/v1/polls/\(poll)/votes", headers: ["Authorization": "Bearer \(NativeFixture.voterToken(voter))"],
                body: #"{"choices":[\#(index % 4)]}"#)
            statuses.append(response?.status ?? 0)
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
        #expect(try ProxyTests.serverErrors(broken.daemon) > 0, "votes reached the daemon without Redis and were retried")
        let ballots = try WriteThroughTests.storedBallots(redis, poll)
        #expect(ballots.count == voters.count)
        for (index, voter) in voters.enumerated() { #expect(ballots[voter] == WriteThroughTests.hex(index % 4), "\(voter)") }
        #expect(try WriteThroughTests.storedCounts(redis, poll)["voters"] == voters.count)
    }
}
