import Foundation
import TallyAPI
import TallyTestSupport
import Testing

@Suite(.serialized) struct AccessTests {
    @Test func votesNeedAValidUnexpiredVoterToken() throws {
        let f = try NativeFixture()
        let id = try f.create()
        let body = #"{"choices":[0]}"#
        let missing = f.client.request("POST", "/v1/polls/\(id)/votes", body: body)!
        #expect(missing.status == 401 && missing.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        #expect(missing.json?["code"] as? String == "credentials_required")
        let forged = VoterTokens(secret: Array("some-other-secret-0000000".utf8)).mint(voter: "ann", expiresAt: 4_000_000_000)
        #expect(f.client.request("POST", "/v1/polls/\(id)/votes", headers: ["Authorization": "Bearer \(forged)"], body: body)?.json?["code"] as? String == "invalid_token")
        let expired = NativeFixture.voterToken("ann", expiresIn: -1)
        #expect(f.client.request("POST", "/v1/polls/\(id)/votes", headers: ["Authorization": "Bearer \(expired)"], body: body)?.json?["code"] as? String == "token_expired")
        var tampered = Array(NativeFixture.voterToken("ann").utf8)
        tampered[4] ^= 1  // another voter id, same signature
        #expect(f.client.request("POST", "/v1/polls/\(id)/votes", headers: ["Authorization": "Bearer \(String(decoding: tampered, as: UTF8.self))"], body: body)?.status == 401)
        #expect(f.client.request("POST", "/v1/polls/\(id)/votes", headers: ["Authorization": "Bearer garbage"], body: body)?.status == 401)
    }

    @Test func theTokenCommandMintsTokensTheDaemonAccepts() throws {
        let f = try NativeFixture()
        let id = try f.create()
        let minted = try Daemon.run(["token", "--voter", "zoe", "--ttl", "10m", "--config", f.daemon.configPath])
        #expect(minted.status == 0)
        let token = minted.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let response = f.client.request("POST", "/v1/polls/\(id)/votes", headers: ["Authorization": "Bearer \(token)"], body: #"{"choices":[1]}"#)
        #expect(response?.status == 200)
        #expect(try Daemon.run(["token", "--voter", "zoe", "--ttl", "soon", "--config", f.daemon.configPath]).status != 0)
    }

    @Test func organizerCallsNeedTheOrganizerToken() throws {
        let f = try NativeFixture()
        let create = #"{"question":"Q","options":["a"]}"#
        #expect(f.client.request("POST", "/v1/polls", body: create)?.status == 401)
        #expect(f.client.request("POST", "/v1/polls", headers: ["Authorization": "Bearer \(NativeFixture.voterToken("ann"))"], body: create)?.status == 403)
        #expect(f.client.request("POST", "/v1/polls", headers: ["Authorization": "Bearer organizer-token-for-tests-0002"], body: create)?.status == 403)
        let id = try f.create()
        #expect(f.client.request("DELETE", "/v1/polls/\(id)")?.status == 401)
        #expect(f.client.request("POST", "/v1/polls/\(id)/close")?.status == 401)
    }

    @Test func trustedProxyHeaderIdentifiesVoters() throws {
        let f = try NativeFixture()
        let id = try f.create()
        let response = f.client.request("POST", "/v1/polls/\(id)/votes", headers: ["X-Voter-Id": "via-proxy"], body: #"{"choices":[2]}"#)
        #expect(response?.status == 200)
        let again = f.client.request("POST", "/v1/polls/\(id)/votes", headers: ["X-Voter-Id": "via-proxy"], body: #"{"choices":[1]}"#)
        #expect(again?.json?["code"] as? String == "already_voted")
        // A request that carries a credential is judged by it: a bad one is not overruled by the header.
        let both = f.client.request(
            "POST", "/v1/polls/\(id)/votes", headers: ["X-Voter-Id": "via-proxy-2", "Authorization": "Bearer nonsense"], body: #"{"choices":[1]}"#)
        #expect(both?.status == 401)
    }

    @Test func voterHeaderFromAnUntrustedAddressIsRefused() throws {
        let config = NativeFixture.config.replacingOccurrences(of: #"trusted_proxies = ["127.0.0.1"]"#, with: #"trusted_proxies = ["10.1.2.3"]"#)
        let f = try NativeFixture(config: config)
        let id = try f.create()
        let response = f.client.request("POST", "/v1/polls/\(id)/votes", headers: ["X-Voter-Id": "mallory"], body: #"{"choices":[2]}"#)
        #expect(response?.status == 401)
    }
}

@Suite(.serialized) struct DaemonTests {
    func writeConfig(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "tally-check-\(UUID().uuidString).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func checkConfigReportsTheKeyTheProblemAndTheLine() throws {
        let path = try writeConfig("[server]\nloops = 2\nlisten = \"127.0.0.1:9\"\nmax_body_bytes = \"big\"\n\n[auth]\nvoter_secret = \"0123456789abcdef\"\n")
        let result = try Daemon.run(["check-config", "--config", path])
        #expect(result.status != 0)
        #expect(result.output.contains("[server] max_body_bytes: must be a whole number") && result.output.contains("line 4"), "\(result.output)")

        let unknown = try writeConfig("[auth]\nvoter_secret = \"0123456789abcdef\"\nvoter_secrets = 1\n")
        #expect(try Daemon.run(["check-config", "--config", unknown]).output.contains("unknown key 'voter_secrets' in [auth] (line 3)"))
        let broken = try writeConfig("[server\n")
        #expect(try Daemon.run(["check-config", "--config", broken]).output.contains("line 1"))
        let noSecret = try writeConfig("[server]\nloops = 1\n")
        #expect(try Daemon.run(["check-config", "--config", noSecret]).output.contains("voter_secret"))
    }

    /// `[redis] cluster` names a Redis Cluster's seed nodes instead of `address`; not both.
    @Test func checkConfigTakesAClusterOrAnAddress() throws {
        let secret = "[auth]\nvoter_secret = \"0123456789abcdef\"\n"
        let cluster = try writeConfig(secret + "[redis]\ncluster = [\"10.0.0.5:7000\", \"10.0.0.6:7000\"]\n")
        let shown = try Daemon.run(["check-config", "--config", cluster])
        #expect(shown.status == 0 && shown.output.contains("redis       cluster, seeds 10.0.0.5:7000, 10.0.0.6:7000"), "\(shown.output)")
        let both = try writeConfig(secret + "[redis]\naddress = \"127.0.0.1:6379\"\ncluster = [\"10.0.0.5:7000\"]\n")
        #expect(try Daemon.run(["check-config", "--config", both]).output.contains("[redis] address and cluster: set one"))
        let empty = try writeConfig(secret + "[redis]\ncluster = []\n")
        #expect(try Daemon.run(["check-config", "--config", empty]).output.contains("[redis] cluster: names no node"))
    }

    /// config.example.toml's secrets are placeholders: check-config says so loudly, and tallyd
    /// refuses them where other machines can reach it.
    @Test func thePlaceholderSecretsOfTheExampleAreFlaggedAndRefusedBeyondLoopback() throws {
        let example = RedisServer.shippedConfig.replacingOccurrences(of: "deploy/redis.conf", with: "config.example.toml")
        let checked = try Daemon.run(["check-config", "--config", example])
        #expect(checked.status == 0)
        #expect(checked.output.contains("WARNING: [auth] organizer_tokens still holds the placeholder of config.example.toml"), "\(checked.output)")
        #expect(checked.output.contains("WARNING: [auth] voter_secret still holds the placeholder"), "\(checked.output)")

        let redis = try RedisServer()
        let refused = try Daemon.run(
            ["run", "--config", example],
            environment: ["TALLY_SERVER_LISTEN": "0.0.0.0:0", "TALLY_REDIS_ADDRESS": "127.0.0.1:\(redis.port)"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("still hold the placeholders of config.example.toml, and [server] listen (0.0.0.0)"), "\(refused.output)")
        let own = try Daemon.run(
            ["check-config", "--config", example],
            environment: ["TALLY_AUTH_VOTER_SECRET": "a-secret-of-our-own-0001", "TALLY_AUTH_ORGANIZER_TOKENS": "an-organizer-token-0001"])
        #expect(own.status == 0 && !own.output.contains("WARNING"), "\(own.output)")
    }

    /// Dialect mounts: normalized, checked, and never one under another (or under the native API).
    @Test func dialectPrefixesAreCheckedAndNamed() throws {
        let secret = "[auth]\nvoter_secret = \"0123456789abcdef\"\n"
        let defaults = try Daemon.run(["check-config", "--config", try writeConfig(secret)])
        #expect(defaults.output.contains("dialects    native at /v1, mastodon at /mastodon"), "\(defaults.output)")
        let moved = try Daemon.run(["check-config", "--config", try writeConfig(secret)], environment: ["TALLY_DIALECTS_MASTODON_PREFIX": "//social//m/"])
        #expect(moved.output.contains("mastodon at /social/m"), "\(moved.output)")
        let refused: [(String, String)] = [
            ("[dialects.mastodon]\nprefix = \"/v1/social\"\n", "[dialects.mastodon] prefix /v1/social overlaps the native API at /v1"),
            ("[dialects.canvas]\nprefix = \"/lms/api/v1\"\n", "[dialects.canvas] prefix: may not contain 'api/v1'"),
            ("[dialects.nextcloud]\nprefix = \"/cloud/index.php\"\n", "may not end in /index.php"),
            ("[dialects.pnut]\nprefix = \"/mastodon/pnut\"\n", "[dialects.mastodon] prefix /mastodon overlaps pnut at /mastodon/pnut"),
            ("[dialects.pnut]\nprefix = \"/\"\n", "must name a path"),
            ("[dialects.mastodon]\nenabled = \"yes\"\n", "[dialects.mastodon] enabled: must be true or false"),
            ("[dialects.myspace]\nprefix = \"/m\"\n", "unknown section [dialects.myspace]"),
        ]
        for (table, message) in refused {
            let result = try Daemon.run(["check-config", "--config", try writeConfig(secret + table)])
            #expect(result.status != 0 && result.output.contains(message), "\(table): \(result.output)")
        }
        let off = try Daemon.run(["check-config", "--config", try writeConfig(secret + "[dialects.mastodon]\nenabled = false\n[dialects.pnut]\nprefix = \"/mastodon\"\n")])
        #expect(off.status == 0, "a disabled mount takes no path: \(off.output)")
    }

    @Test func environmentOverridesTheFile() throws {
        let path = try writeConfig("[server]\nloops = 1\n\n[auth]\nvoter_secret = \"0123456789abcdef\"\n")
        let result = try Daemon.run(
            ["check-config", "--config", path], environment: ["TALLY_SERVER_LOOPS": "3", "TALLY_SERVER_LISTEN": "127.0.0.1:7070"])
        #expect(result.status == 0 && result.output.contains("127.0.0.1:7070, 3 loop(s)"), "\(result.output)")
        #expect(try Daemon.run(["check-config", "--config", path], environment: ["TALLY_SERVER_LOOPS": "zero"]).output.contains("TALLY_SERVER_LOOPS"))
    }

    @Test func sigtermDrainsAndExitsZero() throws {
        let daemon = try Daemon(config: NativeFixture.config)
        let client = try daemon.client()
        client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(client.response()?.status == 200)
        let (status, log) = daemon.stop()
        #expect(status == 0 && log.contains("stopped"), "status \(status), reason \(daemon.process.terminationReason == .uncaughtSignal ? "signal" : "exit"): \(log)")
    }

    @Test func versionAndHelp() throws {
        #expect(try Daemon.run(["version"]).output.hasPrefix("tallyd "))
        #expect(try Daemon.run(["--help"]).output.contains("check-config"))
    }
}

@Test func theExampleConfigurationIsValid() throws {
    let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config.example.toml").path
    let result = try Daemon.run(["check-config", "--config", example])
    #expect(result.status == 0, "\(result.output)")
}

@Suite(.serialized) struct ConnectionLoadTests {
    /// Holds `ProcessGate` alone: other tests launch no process while its 2 000 sockets are open.
    @Test func thousandsOfIdleAndSlowConnectionsStayCheapAndAreClosed() throws {
        try ProcessGate.shared.alone {
            var limit = rlimit()
            getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            let soft = limit.rlim_cur
            limit.rlim_cur = limit.rlim_max  // the test and the daemon (which inherits it) hold 2000 sockets
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            defer {
                limit.rlim_cur = soft
                setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            }
            let daemon = try Daemon(config: NativeFixture.config.replacingOccurrences(of: "loops = 2", with: "loops = 1\nheader_timeout_ms = 1500"))
            let probe = try daemon.client()
            _ = probe.request("GET", "/healthz")
            let before = daemon.residentKilobytes

            var idle: [RawClient] = []
            var slow: [RawClient] = []
            for _ in 0..<1000 {
                let client = try daemon.client()
                client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                idle.append(client)
                let loris = try daemon.client()
                loris.send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                slow.append(loris)
            }
            for client in idle { #expect(client.response()?.status == 200) }
            let after = daemon.residentKilobytes
            let perConnection = Double(after - before) * 1024 / 2000
            #expect(perConnection < 16 * 1024, "\(Int(perConnection)) bytes per open connection (RSS \(before) → \(after) kB)")

            // The daemon still answers, and the slow clients get 408 and are closed at their deadline.
            #expect(probe.request("GET", "/healthz")?.status == 200)
            usleep(2_000_000)
            var timedOut = 0
            for loris in slow where loris.response(timeout: 1)?.status == 408 { timedOut += 1 }
            #expect(timedOut == slow.count)
            let metrics = probe.request("GET", "/metrics")?.text ?? ""
            #expect(metrics.contains("tally_http_request_timeouts_total 1000"))
            #expect(metrics.contains("tally_http_connections_open 1001"), "the idle ones and the probe remain")
        }
    }
}
