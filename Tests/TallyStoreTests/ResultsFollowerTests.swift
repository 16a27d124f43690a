import Foundation
import TallyCore
import TallyTestSupport
import Testing

@testable import TallyStore

/// The results follower against a real Redis: viewed polls get Redis' tallies, a bounded number per
/// refresh, those refreshed longest ago first.
@Suite(.serialized) struct ResultsFollowerTests {
    @Test func viewedPollsGetRedisTalliesABoundedNumberPerRefreshInTurn() throws {
        let redis = try RedisServer()
        let registry = PollRegistry(shardCount: 1, readers: 1)
        let definition = PollDefinition(question: "Q", options: ["a", "b"])
        try registry.install((1...30).map { ($0, definition, .open, 0) })
        try registry.install([(31, definition, .open, 0)])
        let store = try BlockingRedis(host: "127.0.0.1", port: redis.port)
        for id in 1...31 as ClosedRange<PollID> {
            try store.command(["HSET", KeySchema.poll(id), "version", "3", "voters", "7", "0", "4", "1", "\(id)"]) { _ in }
        }
        let now = WallClock.now()
        for id in 1...30 as ClosedRange<PollID> { _ = registry.poll(id)!.results(for: Viewer(isOrganizer: true), now: now) }

        let follower = ResultsFollower(redis: .single(host: "127.0.0.1", port: redis.port), registry: registry, pollsPerRefresh: 12)
        // Read as of time 0, which marks no poll viewed.
        func refreshed() -> [PollID] {
            (1...31).filter { registry.poll($0)!.results(for: Viewer(isOrganizer: true), now: 0).voters == 7 }
        }
        follower.refresh()
        #expect(refreshed().count == 12)
        follower.refresh()
        #expect(refreshed().count == 24, "the next refresh takes polls not read yet")
        follower.refresh()
        #expect(refreshed() == Array(1...30), "every viewed poll, and only those")
        let poll = registry.poll(30)!.results(for: Viewer(isOrganizer: true), now: 0)
        #expect(poll.count(of: 0) == 4 && poll.count(of: 1) == 30)
    }
}
