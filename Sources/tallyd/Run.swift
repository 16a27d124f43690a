import ArgumentParser
import Foundation
import TallyAPI
import TallyBase
import TallyCloser
import TallyCore
import TallyHTTP
import TallyPages
import TallyStore

/// `tallyd run`: serves until SIGTERM or SIGINT, then drains and exits 0.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve votes (the default).")
    @OptionGroup var config: ConfigOption

    func run() throws {
        let config = try config.load()
        if !config.placeholderKeys.isEmpty {
            let keys = config.placeholderKeys.joined(separator: " and ")
            guard config.listensOnLoopbackOnly else {
                throw ValidationError(
                    "\(keys) still hold the placeholders of config.example.toml, and [server] listen (\(config.listenHost)) "
                        + "is reachable from other machines: set your own secrets (e.g. openssl rand -hex 32)")
            }
            log("tallyd: WARNING: \(keys) still hold the placeholders of config.example.toml; fine on loopback, refused elsewhere")
        }
        signal(SIGPIPE, SIG_IGN)
        // Block the stop signals before any loop thread starts, so threads inherit the mask and
        // this thread alone receives them (sigwait below): no handler needs to be signal-safe.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        let registry = PollRegistry(shardCount: config.loops, readers: config.loops)
        let endpoint: RedisEndpoint
        if !config.redisCluster.isEmpty {
            endpoint = .cluster(seeds: config.redisCluster)
        } else if let host = config.redisHost {
            endpoint = .single(host: host, port: config.redisPort)
        } else {
            throw ValidationError(
                "[redis] address: set it (or TALLY_REDIS_ADDRESS) to the host:port of the Redis that stores votes; "
                    + "scripts/run starts a local one when it is not set")
        }
        let startMap: SlotMap
        do { startMap = try BlockingCluster(endpoint).map } catch { throw ValidationError("cannot reach Redis at \(endpoint): \(error)") }
        // Every master's persistence settings: a 200 survives what the weakest survives.
        for address in startMap.masters {
            let durability: RedisDurability
            do { durability = try RedisDurability.read(address: address) } catch {
                throw ValidationError("cannot read Redis' persistence settings at \(address): \(error)")
            }
            log("tallyd: Redis at \(address): \(durability.promise)")
            if !durability.hasAppendOnlyFile && !config.allowVolatile {
                throw ValidationError(
                    "Redis at \(address) has no append-only file: a restart of Redis would lose acknowledged votes. "
                        + "Turn it on (appendonly yes, appendfsync always: see deploy/redis.conf), "
                        + "or set [redis] allow_volatile = true for a throwaway rehearsal")
            }
        }
        let storeTarget: StoreTarget = config.redisCluster.isEmpty ? .single(startMap.masters[0]) : .cluster(startMap)
        // Recovery: every poll and ballot Redis holds, before any vote is taken.
        let sync = PollSync(redis: endpoint, registry: registry)
        let loaded: (polls: Int, ballots: Int)
        do { loaded = try sync.loadAll() } catch { throw ValidationError("cannot load polls: \(error)") }
        log(
            "tallyd: loaded \(loaded.polls) poll(s) and \(loaded.ballots) ballot(s) from Redis at \(endpoint)"
                + " (\(registry.droppedCount) closed poll(s) left there until asked for)")
        sync.onProblem = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        let stores = StoreReadiness(count: config.loops)
        let access = AccessPolicy(
            organizerTokens: config.organizerTokens, voterSecret: config.voterSecret, trustedProxies: config.trustedProxies,
            votersCreatePolls: config.votersCreatePolls)
        let native = NativeAPI(registry: registry, access: access)
        let mastodon = config.dialects[.mastodon].flatMap { $0.enabled ? MastodonAPI(registry: registry, access: access, prefix: $0.prefix) : nil }
        let nextcloud = config.dialects[.nextcloud].flatMap { $0.enabled ? NextcloudAPI(registry: registry, access: access, prefix: $0.prefix) : nil }
        let pnut = config.dialects[.pnut].flatMap { $0.enabled ? PnutAPI(registry: registry, access: access, prefix: $0.prefix) : nil }
        let canvas = config.dialects[.canvas].flatMap { $0.enabled ? CanvasAPI(registry: registry, access: access, prefix: $0.prefix) : nil }
        let contentPolls = config.dialects[.contentPolls].flatMap {
            $0.enabled ? ContentPollsAPI(registry: registry, access: access, prefix: $0.prefix) : nil
        }
        var voteStats = [("native", native.voteStats)]
        if let mastodon { voteStats.append(("mastodon", mastodon.voteStats)) }
        if let nextcloud { voteStats.append(("nextcloud", nextcloud.voteStats)) }
        if let pnut { voteStats.append(("pnut", pnut.voteStats)) }
        if let canvas { voteStats.append(("canvas", canvas.voteStats)) }
        let ops = OpsAPI(registry: registry, voteStats: voteStats)
        let pages = config.pages ? PagesAPI(publicURL: config.publicURL) : nil
        let server: HTTPServer
        var storeStats: [StoreStats] = []
        do {
            server = try HTTPServer(host: config.listenHost, port: config.listenPort, loopCount: config.loops, limits: config.limits) { loop in
                let router = Router()
                let reader = registry.reader(loop.index)
                loop.onSweep { reader.takePostedPages() }
                let store = LoopStore(
                    context: loop, redis: storeTarget, reader: reader, capacity: config.maxPendingVotes,
                    timeoutMilliseconds: config.redisTimeoutMilliseconds, batching: config.batching,
                    allowVolatile: config.allowVolatile, replicasToAck: config.replicasToAck)
                store.shardsPerPoll = config.shards
                store.shardsPerHotPoll = startMap.masters.count
                stores.watch(store, loop: loop.index)
                store.onDurability = { [allowVolatile = config.allowVolatile] redisAddress, durability in
                    if durability.hasAppendOnlyFile || allowVolatile {
                        log("tallyd: loop \(loop.index) connected to Redis at \(redisAddress): \(durability.promise)")
                    } else {
                        log("tallyd: loop \(loop.index): Redis at \(redisAddress) has no append-only file; "
                            + "votes are refused (503) until it has one and tallyd reconnects")
                    }
                }
                storeStats.append(store.stats)
                let desks = LoopDesks(registry: registry, reader: reader, store: store, access: access)
                native.install(on: router, desks)
                mastodon?.install(on: router, desks)
                nextcloud?.install(on: router, desks)
                pnut?.install(on: router, desks)
                canvas?.install(on: router, desks)
                contentPolls?.install(on: router, desks)
                ops.install(on: router)
                pages?.install(on: router)
                return router
            }
        } catch {
            throw ValidationError("cannot listen: \(error)")
        }
        ops.transportStats = server.stats
        ops.storeStats = storeStats
        ops.isReady = { stores.allReady }
        let closer = CloseWorker(redis: endpoint, registry: registry)
        closer.relayEvents(of: sync.pendingEvents)
        closer.onProblem = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        let follower = ResultsFollower(redis: endpoint, registry: registry, intervalMilliseconds: config.resultsRefreshMilliseconds)
        follower.onProblem = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        let sweeper = config.keepClosedSeconds > 0 ? ClosedPollSweeper(registry: registry, keepSeconds: config.keepClosedSeconds) : nil
        server.start()
        closer.start()
        sweeper?.start()
        sync.start()
        if config.resultsRefreshMilliseconds > 0 { follower.start() }
        log("tallyd \(Tallyd.version) listening on \(config.listenHost):\(server.port) with \(config.loops) loop(s)")

        var received: Int32 = 0
        sigwait(&stopSignals, &received)
        log("tallyd: \(received == SIGTERM ? "SIGTERM" : "SIGINT"), draining")
        sync.stop()
        closer.stop()
        sweeper?.stop()
        if config.resultsRefreshMilliseconds > 0 { follower.stop() }
        server.stop()
        server.wait()
        log("tallyd: stopped")
    }

}

/// One line to standard error (the daemon's log), from any thread.
func log(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
