import Crypto
import Foundation
import TallyCore

/// The Lua script that finalizes polls at their end dates: for each poll, if Redis still has it
/// open with that end date and Redis' own clock has reached it, it flips the state to closed, freezes
/// the results beside it in `{p:ID}:poll` and appends a `closed` event to `tally:closed`, all in one
/// atomic step. Idempotent: with several daemons, the first call finalizes and the others find the
/// poll closed, so there is one event per poll.
///
///     KEYS  tally:closed, then per poll: {p:ID}:poll
///     ARGV  events kept, then per poll: id, end date (µs since the epoch, as scheduled), options
///     reply one verdict per poll (see `CloseVerdict`)
///
/// On a Redis Cluster a script's keys must share one slot, and the stream's is not a poll's: there
/// the script is called per slot with the polls' keys only and `outbox` for the events kept, and
/// instead of appending the event it marks the poll `eventPending`; `ClosedEvents` appends it.
/// A sharded poll's shards (`PollShards`) are each closed with `freeze` instead (no event: the poll
/// gets one, with their summed tallies, when the close worker closes its own key after them).
///
/// Three commands per poll (read the poll with its tallies, flip and freeze, append the event),
/// and one trim of the stream per call: each costs Redis a few microseconds, half of it for being
/// called from Lua, and a burst of polls ending together is bound by them (`Benchmarks/run-scripts`,
/// AOF on: ~95 k instructions per poll, of which ~41 k read and check, ~26 k flip and freeze, ~28 k
/// append, each write with its AOF entry). Sent with its source (EVAL): a few microseconds per call
/// of 200 polls, and no NOSCRIPT to handle.
public enum CloseScript {
    /// Polls per call: each costs Redis ~10–20 µs (measured), so a call holds Redis a few ms, and
    /// votes wait behind it; smaller calls would add round trips to a burst.
    public static let pollsPerCall = 200

    /// A poll to finalize: its id, the end date it was scheduled for, and its option count as this
    /// daemon knows it (a poll whose options changed meanwhile is left to its new schedule).
    public typealias Due = (id: PollID, closesAt: Timestamp, options: Int)

    /// What becomes of a finalized poll's `closed` event.
    public enum Event {
        /// Appended to `tally:closed` by the script (one Redis).
        case append
        /// Marked pending, for `ClosedEvents` (a cluster; the polls share a slot); sent by SHA-1.
        case markPending
        /// None: the keys are one shard of each poll (`PollShards`; they share a slot).
        case none(shards: [PollShard])
    }

    /// Writes the command that finalizes `polls`.
    public static func write(_ polls: some Collection<Due>, event: Event = .append, to writer: RESPWriter) {
        let stream: Bool
        if case .append = event { stream = true } else { stream = false }
        writer.begin(arguments: (stream ? 5 : 4) + 4 * polls.count)
        writer.argument(stream ? "EVAL" : "EVALSHA")
        writer.argument(string: stream ? source : sha1)
        writer.argument(decimal: Int64((stream ? 1 : 0) + polls.count))
        switch event {
        case .append:
            writer.argument(string: KeySchema.closedEvents)
            for poll in polls { writer.key(.poll, poll.id) }
            writer.argument(decimal: Int64(KeySchema.closedEventsKept))
        case .markPending:
            for poll in polls { writer.key(.poll, poll.id) }
            writer.argument("outbox")
        case .none(let shards):
            for shard in shards { writer.key(.poll, shard) }
            writer.argument("freeze")
        }
        for poll in polls {
            writer.argument(decimal: Int64(poll.id))
            writer.argument(decimal: poll.closesAt)
            writer.argument(decimal: Int64(poll.options))
        }
    }

    /// The script's SHA-1, as EVALSHA names it.
    public static let sha1: String = Insecure.SHA1.hash(data: Array(source.utf8)).map { String(format: "%02x", $0) }.joined()

    public static let source = """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local closedAt = string.format('%d', now)
        -- The fields read per poll, by option count: the checks, then the tallies.
        local fieldsFor = {}
        -- One table for every poll's counts, overwritten and joined up to the poll's option count:
        -- a new table per poll would grow (and be rehashed) option by option.
        local verdicts, appended, results = {}, false, {}
        -- On a cluster (outbox): no stream among the keys; events are marked pending for ClosedEvents.
        local outbox, freeze = ARGV[1] == 'outbox', ARGV[1] == 'freeze'
        local skip = (outbox or freeze) and 0 or 1
        for n = 1, #KEYS - skip do
          local poll, id, closesAt, options = KEYS[n + skip], ARGV[3 * n - 1], ARGV[3 * n], ARGV[3 * n + 1]
          local fields = fieldsFor[options]
          if not fields then
            fields = {'state', 'closesAt', 'closesOnEnd', 'options', 'voters'}
            for option = 0, tonumber(options) - 1 do fields[#fields + 1] = tostring(option) end
            fieldsFor[options] = fields
          end
          local stored = redis.call('HMGET', poll, unpack(fields))
          if stored[2] ~= closesAt or stored[3] ~= '1' or stored[4] ~= options
            or not (stored[1] == 'open' or stored[1] == 'closed') then
            verdicts[n] = 'changed'
          elseif stored[1] == 'closed' then verdicts[n] = 'closed'
          elseif now < tonumber(closesAt) then verdicts[n] = string.format('early:%d', tonumber(closesAt) - now)
          else
            for option = 1, #fields - 5 do results[option] = stored[5 + option] or '0' end
            local voters, frozen = stored[5] or '0', '[' .. table.concat(results, ',', 1, #fields - 5) .. ']'
            redis.call('HSET', poll, 'state', 'closed', 'closedAt', closedAt, 'finalVoters', voters, 'finalCounts', frozen)
            if freeze then
            elseif outbox then redis.call('HSET', poll, 'eventPending', '1')
            else
              redis.call('XADD', KEYS[1], '*', 'poll', id, 'closesAt', closesAt, 'closedAt', closedAt,
                'voters', voters, 'counts', frozen)
            end
            verdicts[n] = 'finalized'
            appended = skip == 1
          end
        end
        -- Trimmed once per call, not per event: XADD's own MAXLEN cost ~5 % of a poll's finalization.
        if appended then redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1]) end
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
