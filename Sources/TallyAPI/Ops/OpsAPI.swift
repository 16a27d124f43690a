import Foundation
import TallyBase
import TallyCore
import TallyHTTP
import TallyStore

/// `/healthz` (the process answers), `/readyz` (it should get traffic) and `/metrics` (Prometheus
/// text format).
public final class OpsAPI: @unchecked Sendable {
    private let registry: PollRegistry
    /// Each dialect's name and its loops' vote outcomes.
    private let voteStats: [(dialect: String, loops: [VoteStats])]
    /// Set once, before the server starts (thread start orders it before every read).
    public var transportStats: [LoopStats] = []
    /// Each loop's vote writes to Redis; set once, like `transportStats`.
    public var storeStats: [StoreStats] = []
    /// Whether this daemon should get traffic; false while draining (and, with Redis, while the
    /// store is unreachable).
    public var isReady: () -> Bool = { true }

    public init(registry: PollRegistry, voteStats: [(dialect: String, loops: [VoteStats])]) {
        self.registry = registry
        self.voteStats = voteStats
    }

    public func install(on router: Router) {
        router.add(.get, "/healthz") { _, _, response in
            response.writeJSON(status: 200) { json in json.object { $0.field("status", "ok") } }
        }
        router.add(.get, "/readyz") { [self] _, _, response in
            let ready = isReady()
            response.writeJSON(status: ready ? 200 : 503) { json in
                json.object { $0.field("status", ready ? "ready" : "not ready") }
            }
        }
        router.add(.get, "/metrics") { [self] _, _, response in
            let text = metricsText()
            text.utf8CString.withUnsafeBytes { bytes in
                response.write(
                    status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                    body: UnsafeRawBufferPointer(rebasing: bytes.dropLast()))
            }
        }
    }

    func metricsText() -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Int64)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        // Cumulative buckets up to +Inf, as Prometheus reads them; the loops' histograms summed.
        func histogram(_ name: String, _ help: String, _ parts: [LatencyHistogram]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            var cumulative: Int64 = 0
            for index in 0...LatencyHistogram.bucketBounds.count {
                cumulative += parts.reduce(0) { $0 + $1.bucket(index) }
                let bound = index < LatencyHistogram.bucketBounds.count ? "\(Double(LatencyHistogram.bucketBounds[index]) / 1_000_000)" : "+Inf"
                out += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "\(name)_sum \(Double(parts.reduce(0) { $0 + $1.sumMicroseconds }) / 1_000_000)\n"
            out += "\(name)_count \(cumulative)\n"
        }
        let loops = transportStats
        func sum(_ value: (LoopStats) -> Int64) -> Int64 { loops.reduce(0) { $0 + value($1) } }
        metric(
            "tally_http_responses_total", "counter", "HTTP responses written, by status class.",
            (2...5).map { digit in ("{class=\"\(digit)xx\"}", sum { $0.responses(class: digit) }) })
        metric("tally_http_connections_open", "gauge", "Open client connections.", [("", sum(\.openConnections))])
        metric("tally_http_connections_accepted_total", "counter", "Client connections accepted.", [("", sum(\.acceptedConnections))])
        metric("tally_http_request_timeouts_total", "counter", "Requests answered 408 for arriving too slowly.", [("", sum(\.timeouts))])

        histogram("tally_http_request_duration_seconds", "Time from a request's first byte to its response.", loops.map(\.latency))
        let stores = storeStats
        metric("tally_redis_vote_calls_total", "counter", "Vote-script calls sent to Redis (one per poll per loop iteration).",
            [("", stores.reduce(0) { $0 + $1.scriptCalls })])
        metric("tally_redis_votes_sent_total", "counter", "Votes carried by those calls (divided by the calls: the batch size).",
            [("", stores.reduce(0) { $0 + $1.votesSent })])
        metric(
            "tally_redis_replica_shortfalls_total", "counter",
            "Vote batches whose WAIT for [redis] replicas_to_ack replicas timed out: their votes were answered 503.",
            [("", stores.reduce(0) { $0 + $1.replicaShortfalls })])
        metric(
            "tally_redis_redirections_total", "counter",
            "Redis Cluster redirections followed by the loops: moved (a slot moved for good), ask (a slot mid-move).",
            [("{kind=\"moved\"}", stores.reduce(0) { $0 + $1.moved }), ("{kind=\"ask\"}", stores.reduce(0) { $0 + $1.asked })])
        histogram("tally_redis_vote_call_duration_seconds", "Time from a vote-script call sent to its reply.", stores.map(\.roundTrip))
        // The weakest promise over this daemon's connections that have read it.
        let readings = stores.map(\.durability).filter { $0 != .unknown }
        let durability = readings.min { $0.rawValue < $1.rawValue } ?? .unknown
        metric(
            "tally_redis_durability", "gauge",
            "What a 200 survives, from Redis' appendonly and appendfsync (1 on the policy in force): always survives a Redis crash "
                + "and a power loss; everysec may lose ~2 s on a Redis crash with a slow disk; no may lose ~30 s on a power loss; "
                + "volatile loses everything since the last snapshot on a restart.",
            RedisDurability.allCases.map { ("{policy=\"\($0.label)\"}", $0 == durability ? 1 : 0) })

        metric(
            "tally_votes_total", "counter", "Votes by outcome and dialect (rejected ones also by reason below).",
            voteStats.flatMap { dialect, loops in
                VoteStats.Outcome.allCases.map { outcome in
                    ("{outcome=\"\(outcome)\",dialect=\"\(dialect)\"}", loops.reduce(0) { $0 + $1.value(outcome) })
                }
            })
        metric(
            "tally_votes_rejected_total", "counter", "Votes refused, by reason and dialect.",
            voteStats.flatMap { dialect, loops in
                VoteRejection.allCases.map { reason in
                    ("{reason=\"\(reason.rawValue)\",dialect=\"\(dialect)\"}", loops.reduce(0) { $0 + $1.rejected(reason) })
                }
            })
        let polls = registry.polls { _ in true }
        metric(
            "tally_polls", "gauge", "Polls held, by lifecycle state.",
            Lifecycle.allCases.map { state in ("{state=\"\(state)\"}", Int64(polls.filter { $0.lifecycle == state }.count)) })
        metric(
            "tally_polls_let_go", "gauge", "Closed polls unread for [server] keep_closed_s: in Redis only, loaded again when asked for.",
            [("", Int64(registry.droppedCount))])
        return out
    }
}
