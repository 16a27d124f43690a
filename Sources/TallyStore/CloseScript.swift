import TallyCore

/// The Lua script that finalizes polls at their end dates: for each poll, if Redis still has it
/// open with that end date and Redis' own clock has reached it, it flips the state to closed,
/// freezes the results in `{p:ID}:final` and appends a `closed` event to `tally:closed`, all in one
/// atomic step. Idempotent: with several daemons, the first call finalizes and the others find the
/// poll closed, so there is one event per poll.
///
///     KEYS  tally:closed, then per poll: {p:ID}:rules, {p:ID}:counts, {p:ID}:final
///     ARGV  events kept, then per poll: id, end date (µs since the epoch, as scheduled)
///     reply one verdict per poll (see `CloseVerdict`)
public enum CloseScript {
    /// Polls per call: each costs Redis ~40 µs (measured), so a call holds Redis ~8 ms, and votes
    /// wait behind it; smaller calls would add round trips to a burst.
    public static let pollsPerCall = 200

    /// The command that finalizes `polls` (id, end date).
    public static func command(_ polls: some Collection<(id: PollID, closesAt: Timestamp)>) -> [String] {
        var arguments = ["EVAL", source, "\(1 + 3 * polls.count)", KeySchema.closedEvents]
        var values = ["\(KeySchema.closedEventsKept)"]
        for (id, closesAt) in polls {
            arguments += [KeySchema.rules(id), KeySchema.counts(id), KeySchema.final(id)]
            values += ["\(id)", "\(closesAt)"]
        }
        return arguments + values
    }

    static let source = """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local verdicts = {}
        for n = 1, (#KEYS - 1) / 3 do
          local rules, counts, final = KEYS[3 * n - 1], KEYS[3 * n], KEYS[3 * n + 1]
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
            local fields = {'closesAt', closesAt, 'closedAt', string.format('%d', now), 'voters', byOption['voters'] or '0',
                            'counts', '[' .. table.concat(results, ',') .. ']'}
            redis.call('HSET', rules, 'state', 'closed')
            redis.call('HSET', final, unpack(fields))
            redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'poll', id, unpack(fields))
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
