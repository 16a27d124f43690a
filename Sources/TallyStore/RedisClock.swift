import CLibUV

/// Redis' clock (`TIME`, µs since the epoch) as seen from a loop's monotonic clock, so a vote
/// call can carry its deadline in Redis' own time (`VoteScript`).
///
/// Each reply that carries Redis' time `R` was produced between the call's send and this read,
/// so `R - now` (read with `uv_hrtime`, after the reply arrived) is at most the true offset: a
/// deadline converted with it is never later in Redis' clock than the same moment here. A step of
/// Redis' clock is followed at the next reply.
struct RedisClock {
    /// Redis' time minus `uv_hrtime`, in µs; nil until a reply has told it.
    private(set) var offset: Int64?

    mutating func observe(redisMicroseconds: Int64) { offset = redisMicroseconds - Int64(uv_hrtime() / 1_000) }

    mutating func forget() { offset = nil }

    /// The moment `milliseconds` of the loop's clock (`uv_now`, a coarser reading of the same
    /// monotonic clock as `uv_hrtime`), in Redis' µs.
    func redisMicroseconds(atLoopMilliseconds milliseconds: UInt64) -> Int64? {
        offset.map { Int64(milliseconds) * 1_000 + $0 }
    }
}
