import TallyCore

/// The Lua script that finalizes polls at their end dates: for each poll, if Redis still has it
/// open with that end date and Redis' own clock has reached it, it flips the state to closed, freezes
/// the results beside it in `{p:ID}:rules` and appends a `closed` event to `tally:closed`, all in one
/// atomic step. Idempotent: with several daemons, the first call finalizes and the others find the
/// poll closed, so there is one event per poll.
///
///     KEYS  tally:closed, then per poll: {p:ID}:rules, {p:ID}:counts
///     ARGV  events kept, then per poll: id, end date (µs since the epoch, as scheduled)
///     reply one verdict per poll (see `CloseVerdict`)
///
/// Four commands per poll, each costing Redis 1–3 µs plus as much again to be called from Lua on
/// this project's machines: a burst of polls ending together is bound by them, so the snapshot is
/// written in the same `HSET` that flips the state rather than to a key of its own (a new key per poll
/// also grows Redis' key table in the middle of the burst). Sent with its source (EVAL): a few
/// microseconds per call of 200 polls, and no NOSCRIPT to handle.
public enum CloseScript {
    /// Polls per call: each costs Redis ~15–25 µs (measured), so a call holds Redis ~3–5 ms, and
    /// votes wait behind it; smaller calls would add round trips to a burst.
    public static let pollsPerCall = 200

    /// Writes the command that finalizes `polls` (id, end date).
    public static func write(_ polls: some Collection<(id: PollID, closesAt: Timestamp)>, to writer: RESPWriter) {
        writer.begin(arguments: 5 + 4 * polls.count)
        writer.argument("EVAL")
        writer.argument(source)
        writer.argument(decimal: Int64(1 + 2 * polls.count))
        writer.argument(KeySchema.closedEvents)
        for (id, _) in polls {
            writer.key(.rules, id)
            writer.key(.counts, id)
        }
        writer.argument(decimal: Int64(KeySchema.closedEventsKept))
        for (id, closesAt) in polls {
            writer.argument(decimal: Int64(id))
            writer.argument(decimal: closesAt)
        }
    }

    static let source = """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local closedAt = string.format('%d', now)
        local verdicts = {}
        for n = 1, (#KEYS - 1) / 2 do
          local rules, counts = KEYS[2 * n], KEYS[2 * n + 1]
          local id, closesAt = ARGV[2 * n], ARGV[2 * n + 1]
          local stored = redis.call('HMGET', rules, 'state', 'closesAt', 'closesOnEnd', 'options')
          if stored[2] ~= closesAt or stored[3] ~= '1' or not (stored[1] == 'open' or stored[1] == 'closed') then
            verdicts[n] = 'changed'
          elseif stored[1] == 'closed' then verdicts[n] = 'closed'
          elseif now < tonumber(closesAt) then verdicts[n] = string.format('early:%d', tonumber(closesAt) - now)
          else
            local flat, byOption = redis.call('HGETALL', counts), {}
            for i = 1, #flat, 2 do byOption[flat[i]] = flat[i + 1] end
            local results = {}
            for option = 0, tonumber(stored[4]) - 1 do results[option + 1] = byOption[tostring(option)] or '0' end
            local voters, frozen = byOption['voters'] or '0', '[' .. table.concat(results, ',') .. ']'
            redis.call('HSET', rules, 'state', 'closed', 'closedAt', closedAt, 'finalVoters', voters, 'finalCounts', frozen)
            redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'poll', id, 'closesAt', closesAt, 'closedAt', closedAt,
              'voters', voters, 'counts', frozen)
            verdicts[n] = 'finalized'
          end
        end
        return verdicts
        """
}

/// What the close script did with one poll.
public enum CloseVerdict: Equatable, Sendable {
    /// Closed now, by this call.
    case finalized
    /// Already closed (another daemon finalized it, or an organizer closed it).
    case closed
    /// Redis' clock has not reached the end date yet: try again after this many µs.
    case early(Timestamp)
    /// Redis has another end date, no closing end date, another state, or no such poll: the change
    /// that did it reaches the registry too, and reschedules.
    case changed

    public init(_ reply: RedisReply) {
        switch reply.string ?? "" {
        case "finalized": self = .finalized
        case "closed": self = .closed
        case let text where text.hasPrefix("early:"): self = .early(Timestamp(text.dropFirst(6)) ?? 1_000)
        default: self = .changed  // "changed"
        }
    }
}
