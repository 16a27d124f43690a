import CLibUV
import TallyCore

/// A loop on a Redis Cluster: a connection per master, each command sent to the master of its
/// key's slot (`ClusterSlot`, `SlotMap`), and the cluster's refusals followed so that no vote is
/// answered twice or lost:
/// - `MOVED`: the slot lives elsewhere now; the map is corrected at once (and read whole on the next
///   sweep, as a resharding moves many slots) and the call sent there;
/// - `ASK`: the slot is being moved; this one call goes to the target, after `ASKING`;
/// - `TRYAGAIN` (a poll's keys are split across the two nodes mid-migration), `CLUSTERDOWN`, or a
///   target not connected yet: the call waits (`parked`) and is sent again every tick.
/// In each case the node ran nothing of the call, so sending it again is safe; a call parked longer
/// than `holdLimitMilliseconds` is answered 503 (not stored). Later batches wait behind it, so a
/// voter's votes reach Redis in order. Otherwise each master has its own group commit: a batch
/// for its polls waits only for its own calls, so a slow or hung master holds back its own polls
/// and no other. While a master is not connected (a failover), votes for its
/// slots get 503 and the others flow; the map is read again every sweep (250 ms) until it is back.
extension LoopStore {
    /// Redirections followed in a row before a call waits for the next tick.
    static let maxHops = 5

    /// The Redis that serves a poll shard (nil: its slot has no master known now).
    @inline(__always)
    func node(for shard: PollShard) -> StoreNode? {
        // Read in place: binding the map would copy it (two array retains per vote).
        guard slots != nil else { return nodes[0] }
        return slots?.owner(ofSlot: ClusterSlot.of(shard)).map { nodes[$0] }
    }

    /// The Redis that holds `key` (nil key: any connected one).
    func node(forKey key: [UInt8]?) -> StoreNode? {
        guard let slots else { return nodes[0] }
        guard let key else { return nodes.first { $0.redis.state == .ready } }
        return key.withUnsafeBytes { slots.owner(ofSlot: ClusterSlot.of($0)) }.map { nodes[$0] }
    }

    /// The node at `address`, connected to if it is new (a master that serves no slot yet, as an
    /// `ASK` target may be).
    func node(named address: String) -> StoreNode? {
        guard slots != nil else { return nodes[0] }
        let index = slots!.name(address)
        addMissingNodes()
        return nodes[index]
    }

    /// A connection for every master the map names.
    func addMissingNodes() {
        guard let slots else { return }
        while nodes.count < slots.masters.count { addNode(slots.masters[nodes.count]) }
    }

    /// Where a redirected command goes, and whether after `ASKING`.
    func follow(_ redirection: Redirection) -> (StoreNode?, asking: Bool) {
        switch redirection {
        case .moved(let slot, let address):
            stats.redirected(asked: false)
            slots?.move(slot: slot, to: address)
            mapIsStale = true
            return (node(named: address), false)
        case .ask(_, let address):
            stats.redirected(asked: true)
            return (node(named: address), true)
        }
    }

    /// A vote-script call a cluster node answered without running it: sent where it belongs, or
    /// parked. False for any other error.
    func refused(_ first: Int, _ reply: RedisReply) -> Bool {
        if let redirection = Redirection(reply) {
            let (target, asking) = follow(redirection)
            hops[first] += 1
            if let target, Int(hops[first]) <= LoopStore.maxHops, resend(first, to: target, asking: asking) { return true }
            park(first, since: uv_now(loop))
            return true
        }
        guard reply.hasPrefix("TRYAGAIN") || reply.hasPrefix("CLUSTERDOWN") else { return false }
        park(first, since: uv_now(loop))
        return true
    }

    /// Keeps a refused call to send again on the next tick; while any is parked, the next batch
    /// waits (`flush`).
    func park(_ first: Int, since: UInt64) {
        parked.append((first, since))
        startTicking()
    }

    /// Sends the parked calls again, each to its poll shard's master now; those parked too long are
    /// answered 503 (no node ran them).
    func sendParked() {
        guard !parked.isEmpty else { return }
        let waiting = parked
        parked.removeAll(keepingCapacity: true)
        let now = uv_now(loop)
        for (first, since) in waiting {
            if now - since >= LoopStore.holdLimitMilliseconds {
                settleGroup(first) { _, _, _ in .notStored }
                continue
            }
            hops[first] = 0
            if let node = node(for: batches[first].shard), resend(first, to: node) { continue }
            park(first, since: since)
        }
    }

    /// On each sweep, while the map may be out of date or a master is not connected: reads it again
    /// (`CLUSTER SLOTS`) from a connected node, and connects to any master it names anew.
    func readMapIfStale() {
        guard let current = slots, !readingMap else { return }
        let masterDown = nodes.indices.contains { !nodes[$0].verified && current.isMaster($0) }
        guard mapIsStale || masterDown, let node = nodes.first(where: { $0.redis.state == .ready }) else { return }
        readingMap = true
        call(["CLUSTER", "SLOTS"], on: node) { [unowned self] reply in
            readingMap = false
            guard let reply, slots!.update(clusterSlots: reply) else { return }
            mapIsStale = false
            addMissingNodes()
            updateReadiness()
        }
    }
}
