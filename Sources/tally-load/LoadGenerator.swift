import CLibUV
import Glibc
import Histogram
import TallyAPI
import TallyHTTP

/// What a run sends: where, how many voters and polls, how fast, and which mixes.
struct LoadPlan {
    var host: String
    var port: Int
    var polls: [String]
    var options: Int
    var voters: Int
    var connections: Int
    var duration: Double
    var profile: ArrivalProfile
    /// Share of votes that change an earlier vote of the same voter.
    var revoteShare: Double
    /// Share of votes for an option the poll does not have (answered 422).
    var invalidShare: Double
    /// Voter tokens signed with this secret; nil: voters named by `X-Voter-Id` (a trusted proxy).
    var secret: [UInt8]?
    /// Voter ids are `load-<runID>-<n>`, so runs never share voters.
    var runID: String
    /// How long to wait for answers after the last arrival.
    var drainSeconds: Double = 10
    /// The generator's clock period (µs): arrivals due within one period leave together.
    var tickMicroseconds = 250

    /// Voters the run can reach: a new voter comes with an arrival at most.
    var reachableVoters: Int { min(voters, Int(profile.arrivals(by: duration, of: duration).rounded(.up)) + 1) }
}

/// The open-loop generator: arrivals follow the profile whatever the server does, on a fine clock
/// (a timerfd, 250 µs by default: libuv's own timers tick in whole milliseconds, which would
/// release arrivals in lumps that queue behind each other; finer ticks cost CPU the server under
/// test shares). Each arrival waits for a free connection, and its latency counts from when the
/// clock released it, waiting included (no coordinated omission). How late the clock released
/// arrivals against their exact times is kept apart (`generatorLag`): it is this tool's
/// granularity, not the server's latency, and it shows when the generator itself falls behind.
/// One libuv loop, on the calling thread.
final class LoadGenerator {
    let plan: LoadPlan
    private let loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
    private let clock = UnsafeMutablePointer<uv_poll_t>.allocate(capacity: 1)
    private var clockFD: Int32 = -1
    private var address = sockaddr_in()
    private var connections: [LoadConnection] = []
    private var idle: [LoadConnection] = []
    /// Arrivals not sent yet (released by the clock, ns), oldest first.
    private var waiting: [UInt64] = []
    private var waitingHead = 0
    private var start: UInt64 = 0
    private var issued = 0
    private var lastTick: Double = 0
    private var nextNewVoter = 0
    private var voted: [Int] = []
    /// Each poll's request line and Host header, as bytes.
    private let requestHeads: [[UInt8]]
    /// Each voter's `Authorization` header line (tokens minted before the clock starts, as an event
    /// backend hands them out before the show); empty when voters are named by `X-Voter-Id`.
    private var credentials: [[UInt8]] = []
    private var random = SplitMix64()

    private(set) var ledger: VoteLedger
    private(set) var stats: LoadStats
    /// Called once a second on the loop with the stats so far (the progress line).
    var onSecond: (LoadStats) -> Void = { _ in }

    init(plan: LoadPlan) {
        self.plan = plan
        ledger = VoteLedger(voters: plan.voters)
        stats = LoadStats(seconds: Int(plan.duration.rounded(.up)) + Int(plan.drainSeconds) + 1)
        requestHeads = plan.polls.map { Array("POST /v1/polls/\($0)/votes HTTP/1.1\r\nHost: \(plan.host)\r\n".utf8) }
    }

    /// Tokens for every voter the run can reach, so that minting them does not take the
    /// generator's CPU during the run.
    private func mintTokens() {
        guard let secret = plan.secret else { return }
        let tokens = VoterTokens(secret: secret)
        credentials = (0..<plan.reachableVoters).map { voter in
            Array("Authorization: Bearer \(tokens.mint(voter: "load-\(plan.runID)-\(voter)", expiresAt: 4_102_444_800))\r\n".utf8)
        }
    }

    deinit {
        loop.deallocate()
        clock.deallocate()
    }

    /// Runs the whole load; returns when every answer is in or the drain time is over.
    func run() throws(LoadError) {
        uv_loop_init(loop)
        guard uv_ip4_addr(plan.host, Int32(plan.port), &address) == 0 else { throw LoadError("bad address \(plan.host):\(plan.port)") }
        mintTokens()
        start = uv_hrtime()
        for _ in 0..<plan.connections { openConnection() }
        try startClock()
        uv_run(loop, UV_RUN_DEFAULT)
        uv_loop_close(loop)
        close(clockFD)
    }

    /// A periodic timerfd watched by the loop; each expiry runs `tick`.
    private func startClock() throws(LoadError) {
        clockFD = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
        guard clockFD >= 0 else { throw LoadError("timerfd_create failed (errno \(errno))") }
        let period = timespec(tv_sec: plan.tickMicroseconds / 1_000_000, tv_nsec: plan.tickMicroseconds % 1_000_000 * 1_000)
        var schedule = itimerspec(it_interval: period, it_value: period)
        guard timerfd_settime(clockFD, 0, &schedule, nil) == 0 else { throw LoadError("timerfd_settime failed (errno \(errno))") }
        uv_poll_init(loop, clock, clockFD)
        clock.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_poll_start(clock, Int32(UV_READABLE.rawValue)) { handle, _, _ in
            let generator = Unmanaged<LoadGenerator>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
            var expirations: UInt64 = 0
            _ = read(generator.clockFD, &expirations, 8)
            generator.tick()
        }
    }

    private var elapsed: Double { Double(uv_hrtime() - start) / 1e9 }

    private func openConnection() {
        let connection = LoadConnection(generator: self)
        connections.append(connection)  // kept until the run ends: libuv may still hold a closed one
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connection.open(loop: loop, address: $0) }
        }
    }

    /// Every clock period: the arrivals due by now join the queue, each with its exact intended time.
    private func tick() {
        let now = elapsed
        // The profile's count stops growing at the end of the run: the last tick issues the rest.
        let due = Int(plan.profile.arrivals(by: now, of: plan.duration) + 1e-9)
        while issued < due {
            issued += 1
            let at = arrivalTime(of: issued, after: lastTick, before: min(now, plan.duration))
            waiting.append(start + UInt64(now * 1e9))
            stats.arrived(second: Int(at), lagMicroseconds: UInt64(max(0, now - at) * 1e6))
        }
        lastTick = min(now, plan.duration)
        dispatch()
        let second = Int(now)
        if second > stats.reportedSeconds { stats.reportedSeconds = second; onSecond(stats) }
        let drained = now >= plan.duration && waitingHead == waiting.count && connections.allSatisfy { $0.inFlight == nil }
        if drained || now >= plan.duration + plan.drainSeconds { finish() }
    }

    /// When the `k`-th arrival is due: the profile's cumulative count inverted by bisection.
    private func arrivalTime(of k: Int, after low: Double, before high: Double) -> Double {
        var low = low, high = high
        for _ in 0..<30 where high - low > 1e-7 {
            let middle = (low + high) / 2
            if plan.profile.arrivals(by: middle, of: plan.duration) + 1e-9 >= Double(k) { high = middle } else { low = middle }
        }
        return high
    }

    private func dispatch() {
        while waitingHead < waiting.count, let connection = idle.popLast() {
            guard let voter = nextVoter() else {
                idle.append(connection)
                return
            }
            let releasedAt = waiting[waitingHead]
            waitingHead += 1
            if waitingHead > 65_536 && waitingHead * 2 > waiting.count {
                waiting.removeFirst(waitingHead)
                waitingHead = 0
            }
            let poll = voter % plan.polls.count
            let invalid = Double.random(in: 0..<1, using: &random) < plan.invalidShare
            var choice = invalid ? plan.options : Int.random(in: 0..<plan.options, using: &random)
            if !invalid, plan.options > 1, let previous = ledger.confirmed[voter], previous == choice {
                choice = (choice + 1) % plan.options  // a revote changes something
            }
            write(voter: voter, poll: poll, choice: choice, into: connection)
            ledger.sent(voter)
            stats.sent += 1
            connection.send(.init(releasedAt: releasedAt, voter: voter, poll: poll, choice: choice))
        }
    }

    /// A new voter, or with the revote share one who voted before; never one with a vote in flight.
    private func nextVoter() -> Int? {
        let newVoters = plan.secret == nil ? plan.voters : credentials.count
        let wantsRevote = !voted.isEmpty && (nextNewVoter == newVoters || Double.random(in: 0..<1, using: &random) < plan.revoteShare)
        if wantsRevote {
            for _ in 0..<8 {
                let voter = voted[Int.random(in: 0..<voted.count, using: &random)]
                if !ledger.isBusy(voter) { return voter }
            }
        }
        guard nextNewVoter < newVoters else { return nil }
        defer { nextNewVoter += 1 }
        voted.append(nextNewVoter)
        return nextNewVoter
    }

    /// Writes the vote request into the connection's buffer, piece by piece (no string building:
    /// this runs for every vote, on the core the server under test shares).
    private func write(voter: Int, poll: Int, choice: Int, into connection: LoadConnection) {
        let request = connection.request
        request.removeAll()
        requestHeads[poll].withUnsafeBytes { request.append($0) }
        if credentials.isEmpty {
            request.append("X-Voter-Id: load-")
            request.append(string: plan.runID)
            request.append("-")
            request.append(decimal: voter)
            request.append("\r\n")
        } else {
            credentials[voter].withUnsafeBytes { request.append($0) }
        }
        request.append("Content-Type: application/json\r\nContent-Length: ")
        let digits = choice < 10 ? 1 : 2  // a poll has at most 64 options
        request.append(decimal: #"{"choices":[]}"#.utf8.count + digits)
        request.append("\r\n\r\n{\"choices\":[")
        request.append(decimal: choice)
        request.append("]}")
    }

    // MARK: - From connections

    func becameIdle(_ connection: LoadConnection) {
        idle.append(connection)
        dispatch()
    }

    func answered(_ request: LoadConnection.InFlight, status: Int, by connection: LoadConnection) {
        record(request, status: status)
        becameIdle(connection)
    }

    /// A connection broke (or never connected): its request has no answer. One that had worked is
    /// replaced; one that never connected is not retried (the server is not there).
    func lost(_ connection: LoadConnection, request: LoadConnection.InFlight?, wasOpen: Bool) {
        if let request { record(request, status: nil) }
        idle.removeAll { $0 === connection }
        if wasOpen && elapsed < plan.duration + plan.drainSeconds { openConnection() }
    }

    private func record(_ request: LoadConnection.InFlight, status: Int?) {
        ledger.answered(request.voter, choice: request.choice, status: status)
        let now = uv_hrtime()
        let latency = (now > request.releasedAt ? now - request.releasedAt : 0) / 1_000
        stats.answered(second: Int(Double(now - start) / 1e9), latencyMicroseconds: latency, status: status)
    }

    private func finish() {
        uv_poll_stop(clock)
        uv_close(UnsafeMutableRawPointer(clock).assumingMemoryBound(to: uv_handle_t.self), nil)
        stats.unsent = waiting.count - waitingHead
        for connection in connections {
            if let request = connection.inFlight { record(request, status: nil) }  // no answer in the drain time
            connection.close()
        }
    }
}

struct LoadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
