import ArgumentParser
import Foundation
import Histogram
import Synchronization

/// `tally-load`: rehearses a live event against running tallyd daemons — voters with signed tokens
/// (or a trusted proxy's voter ids) voting in an open-loop profile — then checks that the tallies
/// tallyd reports are exactly what the acknowledged votes imply.
@main
struct TallyLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally-load",
        abstract: "Open-loop vote load against tallyd, with latency percentiles and a check of the tallies.")

    @Option(help: "tallyd's address (or the proxy's), http://host:port.")
    var url = "http://127.0.0.1:8080"
    @Option(help: "An organizer token: the run creates its polls and reads their results.")
    var organizerToken: String
    @Option(help: "The daemon's voter secret, to sign voter tokens. Without it, voters are named by X-Voter-Id (tallyd must trust this host as a proxy).")
    var voterSecret: String?
    @Option(help: "Polls to vote in (voters are spread over them).") var polls = 1
    @Option(help: "Options per poll.") var options = 4
    @Option(help: "Distinct voters.") var voters = 100_000
    @Option(help: "Keep-alive connections.") var connections = 64
    @Option(help: "Generator threads, each with its own event loop and its share of the rate, voters and connections (one thread sends some tens of thousands of votes/s).")
    var threads = 1
    @Option(help: "Seconds of arrivals.") var duration = 10.0
    @Option(help: "Arrival rate: steady:RATE, ramp:FROM:TO, or burst:PEAK:RISE_SECONDS (votes/s).") var profile = "steady:10000"
    @Option(help: "Share of votes that are revotes (0 to 1).") var revote = 0.1
    @Option(help: "Share of votes for an option that does not exist, answered 422 (0 to 1).") var invalid = 0.0
    @Option(help: "The generator's clock period in microseconds: arrivals due within one period are sent together.")
    var tickMicroseconds = 250
    @Option(help: "Write a JSON report here.") var report: String?
    @Option(help: "Check the tallies in this Redis (host:port; or any node of a Redis Cluster), the system of record, instead of asking tallyd (whose results may trail the other daemons by its results_refresh_ms).")
    var checkRedis: String?
    @Flag(help: "Send the same requests to a server that is not tallyd (e.g. nginx `return 204`), for a side-by-side baseline: no polls are created and no tallies checked.")
    var baseline = false

    func validate() throws {
        guard ArrivalProfile(profile) != nil else { throw ValidationError("--profile: steady:RATE, ramp:FROM:TO or burst:PEAK:RISE") }
        guard polls > 0, options > 0, options <= 64, voters > 0, connections > 0, duration > 0, threads > 0, tickMicroseconds > 0 else {
            throw ValidationError("--polls, --options (up to 64), --voters, --connections, --threads, --duration and --tick-microseconds must be positive")
        }
        guard voters >= threads, connections >= threads else { throw ValidationError("--voters and --connections must be at least --threads") }
        guard (0...1).contains(revote), (0...1).contains(invalid) else { throw ValidationError("--revote and --invalid are shares from 0 to 1") }
        guard let parsed = URL(string: url), parsed.host != nil, parsed.port != nil else { throw ValidationError("--url must be http://host:port") }
        if let checkRedis, RedisTallies(address: checkRedis) == nil { throw ValidationError("--check-redis must be host:port") }
    }

    func run() throws {
        let base = URL(string: url)!
        let admin = AdminClient(base: base, organizerToken: organizerToken)
        let pollIDs = baseline ? (1...polls).map(String.init) : try (0..<polls).map { _ in try admin.createPoll(options: options, expectedVoters: voters / polls) }
        let plan = LoadPlan(
            host: base.host!, port: base.port!, polls: pollIDs, options: options, voters: voters, connections: connections,
            duration: duration, profile: ArrivalProfile(profile)!, revoteShare: revote, invalidShare: invalid,
            secret: voterSecret.map { Array($0.utf8) }, runID: String(UInt32.random(in: 0...UInt32.max), radix: 36),
            tickMicroseconds: tickMicroseconds)
        let board = ProgressBoard(threads: threads) { second, figures, statuses in progress(second, figures, statuses) }
        let generators = (0..<threads).map { thread in
            var share = plan
            share.voters = voters / threads + (thread < voters % threads ? 1 : 0)
            share.connections = connections / threads + (thread < connections % threads ? 1 : 0)
            share.profile = plan.profile.scaled(by: 1 / Double(threads))
            share.runID = "\(plan.runID)-\(thread)"
            let generator = LoadGenerator(plan: share)
            generator.onSecond = { stats in board.post(stats) }
            return generator
        }
        if voterSecret != nil {
            FileHandle.standardError.write(Data("minting tokens for up to \(plan.reachableVoters) voters before the clock starts\n".utf8))
        }
        try runAll(generators)
        var stats = generators[0].stats
        for other in generators.dropFirst() { stats.add(other.stats) }
        let check = baseline ? TallyCheck() : verify(generators, pollIDs, admin)
        printSummary(stats, check)
        if let report { try LoadReport(plan: plan, stats: stats, check: check).write(to: report) }
        if !check.passed { throw ExitCode(1) }
    }

    /// Runs each generator on a thread of its own; throws the first failure.
    private func runAll(_ generators: [LoadGenerator]) throws {
        let failures = Mutex<[LoadError]>([])
        let done = DispatchGroup()
        for generator in generators {
            done.enter()
            nonisolated(unsafe) let generator = generator
            Thread {
                do throws(LoadError) { try generator.run() } catch { failures.withLock { $0.append(error) } }
                done.leave()
            }.start()
        }
        done.wait()
        if let failure = failures.withLock({ $0.first }) { throw failure }
    }

    private func progress(_ second: Int, _ last: LoadStats.Second, _ statuses: [Int: Int]) {
        let errors = statuses.filter { !(200..<300).contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key == 0 ? "none" : "\($0.key)"):\($0.value)" }
        let line = "t=\(second + 1)s  arrived \(last.arrived)/s  answered \(last.answered)/s  p50 \(LoadStats.milliseconds(last.latency.valueAtPercentile(50)))  p99 \(LoadStats.milliseconds(last.latency.valueAtPercentile(99)))  errors \(errors.isEmpty ? "none" : errors.joined(separator: " "))\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    private func verify(_ generators: [LoadGenerator], _ pollIDs: [String], _ admin: AdminClient) -> TallyCheck {
        var check = TallyCheck()
        let redis = checkRedis.flatMap(RedisTallies.init(address:))
        for (index, id) in pollIDs.enumerated() {
            // Each thread's voters: local voter v votes in poll v % polls.
            var expected = (low: Array(repeating: 0, count: options), high: Array(repeating: 0, count: options))
            for generator in generators {
                let share = generator.ledger.expected(options: options, voters: stride(from: index, to: generator.plan.voters, by: pollIDs.count))
                for option in 0..<options {
                    expected.low[option] += share.low[option]
                    expected.high[option] += share.high[option]
                }
            }
            var actual: [Int] = []
            do {
                // A daemon's results may trail the votes stored through other daemons by its
                // `results_refresh_ms`: a mismatch is read again for up to 2 s before it counts.
                for attempt in 0..<20 {
                    actual = try redis?.votes(poll: id, options: options) ?? admin.votes(poll: id)
                    let within = (0..<options).allSatisfy { option in
                        let reported = option < actual.count ? actual[option] : 0
                        return (expected.low[option]...expected.high[option]).contains(reported)
                    }
                    if within || redis != nil || attempt == 19 { break }
                    usleep(100_000)
                }
            } catch {
                check.problems.append("\(error)")
                continue
            }
            for option in 0..<options {
                let reported = option < actual.count ? actual[option] : 0
                check.lost += max(0, expected.low[option] - reported)
                check.extra += max(0, reported - expected.high[option])
            }
            check.polls.append(.init(id: id, reported: actual, expectedLow: expected.low, expectedHigh: expected.high))
        }
        check.uncertainVoters = generators.reduce(0) { $0 + $1.ledger.uncertain.count }
        return check
    }

    private func printSummary(_ stats: LoadStats, _ check: TallyCheck) {
        let l = stats.latency
        print("votes sent \(stats.sent), answered \(stats.answered), never sent \(stats.unsent)")
        print("answers by status: " + stats.statuses.sorted { $0.key < $1.key }.map { "\($0.key == 0 ? "none" : "\($0.key)") \($0.value)" }.joined(separator: ", "))
        print("generator clock lag (this tool's granularity): p50 \(LoadStats.milliseconds(stats.generatorLag.valueAtPercentile(50))), p99 \(LoadStats.milliseconds(stats.generatorLag.valueAtPercentile(99)))")
        print("latency from release to answer, waiting for a connection included: p50 \(LoadStats.milliseconds(l.valueAtPercentile(50))), p90 \(LoadStats.milliseconds(l.valueAtPercentile(90))), p99 \(LoadStats.milliseconds(l.valueAtPercentile(99))), p99.9 \(LoadStats.milliseconds(l.valueAtPercentile(99.9))), max \(LoadStats.milliseconds(l.max))")
        if baseline { return print("tallies: not checked (baseline)") }
        print(check.passed
            ? "tallies: every poll and option matches the acknowledged votes (\(check.uncertainVoters) voter(s) with an unanswered vote allowed either way)"
            : "tallies: MISMATCH — \(check.lost) acknowledged vote(s) missing, \(check.extra) vote(s) more than acknowledged \(check.problems.joined(separator: "; "))")
    }
}
