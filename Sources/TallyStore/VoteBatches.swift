import TallyBase
import TallyCore

/// A vote waiting for Redis: what the engine recorded, and whom to answer (its ticket).
struct PendingVote {
    /// The poll's shard that holds the voter's ballot.
    var shard: PollShard
    var poll: PollID { shard.poll }
    var voter: VoterKey
    var previous: Ballot
    var current: Ballot
    /// For a vote that adds options to the ballot (`BallotInput.adds`): those options; else empty.
    var added: Ballot
    var ticket: VoteTicket
    /// The next vote of the same script call (-1: last).
    var next: Int32 = -1
    var finished = false
    var idLength: Int32 = 0
}

/// The votes of one loop waiting for Redis: a fixed ring (no allocation per vote), filled during a
/// loop iteration and sent at its end as one script call per poll shard. Script calls are answered in the
/// order they were sent, but one batch's calls hold interleaved entries, so an entry is marked
/// finished and the ring's head moves past finished entries only.
final class VoteBatches {
    private let entries: UnsafeMutablePointer<PendingVote>
    let capacity: Int
    private var head = 0
    private var count = 0
    /// Each entry's voter id: `VoterIdentity.maxBytes` per entry, so a vote whose fate is unknown
    /// can still be looked up by id later.
    private let voterIDs: UnsafeMutableRawPointer
    /// The batch being filled, by poll shard: its first and last entry and how many it has.
    private var groups: [PollShard: (first: Int, last: Int, count: Int)] = [:]
    /// The groups a `sendGroups` did not send (reused).
    private var kept: [(PollShard, (first: Int, last: Int, count: Int))] = []

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        entries = .allocate(capacity: capacity)
        voterIDs = .allocate(byteCount: capacity * VoterIdentity.maxBytes, alignment: 8)
        groups.reserveCapacity(64)
        kept.reserveCapacity(64)
    }

    deinit {
        // Entries still waiting belong to a loop that stopped: nothing to answer any more.
        entries.deallocate()
        voterIDs.deallocate()
    }

    var isFull: Bool { count == capacity }
    var hasUnsent: Bool { !groups.isEmpty }

    subscript(index: Int) -> PendingVote { entries[index] }

    func voterID(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: voterIDs + index * VoterIdentity.maxBytes, count: Int(entries[index].idLength))
    }

    func add(_ vote: PendingVote, voterID: UnsafeRawBufferPointer) {
        precondition(count < capacity, "check isTakingVotes before submitting")
        precondition(voterID.count <= VoterIdentity.maxBytes)
        let index = (head + count) % capacity
        count += 1
        var vote = vote
        vote.idLength = Int32(voterID.count)
        (voterIDs + index * VoterIdentity.maxBytes).copyMemory(from: voterID.baseAddress!, byteCount: voterID.count)
        (entries + index).initialize(to: vote)
        if let group = groups[vote.shard] {
            entries[group.last].next = Int32(index)
            groups[vote.shard] = (group.first, index, group.count + 1)
        } else {
            groups[vote.shard] = (index, index, 1)
        }
    }

    /// Hands each poll shard's group to `send` (shard, first entry, vote count); the groups it
    /// sent (true) leave the batch, the others stay in it and keep gathering votes.
    func sendGroups(_ send: (PollShard, Int, Int) -> Bool) {
        kept.removeAll(keepingCapacity: true)
        for (shard, group) in groups where !send(shard, group.first, group.count) { kept.append((shard, group)) }
        groups.removeAll(keepingCapacity: true)
        for (shard, group) in kept { groups[shard] = group }
    }

    /// The vote script's arguments for the group that starts at `first`: its voter ids, then its
    /// ballots in the same order.
    func writeVotes(from first: Int, to writer: RESPWriter) {
        var index = first
        while index >= 0 {
            writer.argument(voterID(index))
            index = Int(entries[index].next)
        }
        index = first
        while index >= 0 {
            let vote = entries[index]
            if vote.added.isEmpty { writer.argument(hex: vote.current.mask) } else { writer.argument(addingHex: vote.added.mask) }
            index = Int(vote.next)
        }
    }

    /// How many votes the script call that starts at `first` holds.
    func groupCount(from first: Int) -> Int {
        var count = 0
        var index = first
        while index >= 0 {
            count += 1
            index = Int(entries[index].next)
        }
        return count
    }

    /// Marks an entry answered; returns the next entry of its script call.
    func finish(_ index: Int) -> Int? {
        let next = entries[index].next
        entries[index].finished = true
        while count > 0 && entries[head].finished {
            (entries + head).deinitialize(count: 1)
            head = (head + 1) % capacity
            count -= 1
        }
        return next >= 0 ? Int(next) : nil
    }
}
