import CLibUV
import TallyCore

/// A vote-script call that got no verdicts: its connection dropped or timed out (Redis may have
/// run it, or may still), or Redis answered an error. Its votes wait, unanswered, until Redis can
/// say what it stored.
struct HeldCall {
    /// The call's first entry in the loop's `VoteBatches`.
    let first: Int
    /// Looked up no earlier than this (`uv_now` milliseconds): the call's deadline, after which
    /// Redis refuses it, so what a look-up finds is final.
    let lookUpAt: UInt64
    /// Answered 503 at this moment if Redis still cannot be asked (fate unknown).
    let answerBy: UInt64
    var lookingUp = false
}

extension LoopStore {
    /// How long held votes wait for Redis to come back before they are answered 503 with their
    /// fate unknown (the one case where a 503 may have been stored: sending the same vote again
    /// then answers 200).
    static let holdLimitMilliseconds: UInt64 = 10_000

    func hold(_ first: Int, lookUpAt: UInt64) {
        held.append(HeldCall(first: first, lookUpAt: lookUpAt, answerBy: uv_now(loop) + LoopStore.holdLimitMilliseconds))
        startTicking()
        resolveHeld()
    }

    /// Looks up the held calls whose deadline has passed (once their Redis is connected and
    /// checked), and answers those held too long.
    func resolveHeld() {
        let now = uv_now(loop)
        var index = 0
        while index < held.count {
            let call = held[index]
            if !call.lookingUp && now >= call.answerBy {
                held.remove(at: index)
                settleGroup(call.first) { _, _, _ in .unknown }
                continue
            }
            if !call.lookingUp && now >= call.lookUpAt && node(for: batches[call.first].shard)?.verified == true { lookUp(call.first) }
            index += 1
        }
    }

    /// One HMGET of the call's voters: a vote is stored if its voter's ballot is its ballot now (for
    /// a vote that adds options, if the ballot has them).
    private func lookUp(_ first: Int) {
        guard let position = held.firstIndex(where: { $0.first == first }) else { return }
        held[position].lookingUp = true
        var arguments = [Array("HMGET".utf8), Array(KeySchema.ballots(batches[first].shard).utf8)]
        var entry = first
        while entry >= 0 {
            arguments.append(Array(batches.voterID(entry)))
            entry = Int(batches[entry].next)
        }
        call(bytes: arguments) { [unowned self] reply in
            guard let position = held.firstIndex(where: { $0.first == first }) else { return }
            guard let reply, reply.isArray else {
                held[position].lookingUp = false  // asked again on the next tick
                return
            }
            held.remove(at: position)
            // Found stored on the master, but no replica confirmed it: answered as not stored.
            settleGroup(first, confirmed: replicasToAck == 0) { index, _, vote in
                guard index < reply.count, let stored = VerdictText.ballot(reply[index]) else { return .unknown }
                if !vote.added.isEmpty {
                    guard stored.mask & vote.added.mask == vote.added.mask else { return .notStored }
                    return .accepted(previous: Ballot(mask: stored.mask & ~vote.added.mask))
                }
                if stored != vote.current { return .notStored }
                return vote.previous == vote.current ? .unchanged : .accepted(previous: vote.previous)
            }
        }
    }
}
