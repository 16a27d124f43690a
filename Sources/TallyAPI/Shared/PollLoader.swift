import TallyCore
import TallyHTTP
import TallyStore

/// One loop's way to polls it does not hold: a closed poll the daemon let go of
/// (`PollRegistry.drop`), or one created through another daemon a moment ago. The request that
/// needs them waits while Redis is asked (one round trip, shared by every request waiting for the
/// same polls), then is handled again from the start with the polls in memory. Admin path: a
/// vote reaches it only for a poll this daemon does not hold.
public final class PollLoader {
    let registry: PollRegistry
    let reader: RegistryReader
    let store: LoopStore
    /// Requests waiting, by the polls they wait for.
    private var waiting: [[PollID]: [(DeferredResponse, (ResponseWriter) -> Void)]] = [:]
    /// The polls Redis was just asked about, while the requests that waited for them are handled again.
    private var justAsked: [PollID] = []

    init(registry: PollRegistry, reader: RegistryReader, store: LoopStore) {
        self.registry = registry
        self.reader = reader
        self.store = store
    }

    /// Whether the request will be handled again once Redis has been asked for `ids` (then
    /// `response` is deferred, and answered in `style` if Redis cannot be asked). False if Redis
    /// was just asked about them for this very request: what it has of them is in memory now.
    func load<Style: AnswerStyle>(_ ids: [PollID], _ response: ResponseWriter, _ style: Style) -> Bool {
        let ids = ids.filter { !justAsked.contains($0) }.sorted()
        guard !ids.isEmpty else { return false }
        guard store.isConnected else {
            style.writeUnavailable(response)
            return true
        }
        let later = response.deferred()
        let unavailable: (ResponseWriter) -> Void = { style.writeUnavailable($0) }
        if waiting[ids] != nil {
            waiting[ids]!.append((later, unavailable))
            return true
        }
        waiting[ids] = [(later, unavailable)]
        store.loadPolls(ids) { [self] loaded in
            let requests = waiting.removeValue(forKey: ids) ?? []
            guard let loaded, install(ids, loaded) else {
                for (request, unavailable) in requests { request.complete(unavailable) }
                return
            }
            justAsked = ids
            defer { justAsked = [] }
            for (request, _) in requests { request.handleAgain() }
        }
        return true
    }

    /// Puts what Redis has of `ids` in the registry, with its tallies, counted as just read (so
    /// it stays a while); forgets those Redis no longer has.
    private func install(_ ids: [PollID], _ loaded: [LoadedPoll?]) -> Bool {
        let now = WallClock.now()
        for (id, found) in zip(ids, loaded) where registry.poll(id) == nil {  // one held meanwhile is as new
            guard let found else {
                if registry.isDropped(id) { registry.forget(id) }
                continue
            }
            guard let poll = try? registry.install(
                id: id, definition: found.definition, lifecycle: found.version.state, revision: found.version.revision)
            else { return false }
            poll.markRead(at: now)
            for (shard, tallies) in found.tallies.enumerated() {
                reader.recordStoredTallies(poll: id, storeShard: shard, version: tallies.version, voters: tallies.voters) { tallies.counts[$0] }
            }
        }
        return true
    }
}
