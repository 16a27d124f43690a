import Crypto
import Foundation

/// The Lua script that records votes in Redis, the authority across daemons: it checks each ballot
/// against the poll's rules and the voter's stored ballot, and applies the counter deltas, all in
/// one atomic step. Loaded once (SCRIPT LOAD), called with EVALSHA (reloaded on NOSCRIPT).
///
///     KEYS  {p:ID}:rules, {p:ID}:ballots, {p:ID}:counts
///     ARGV  voter id, ballot, voter id, ballot, …   (ballot: 16 hex digits, bit i = option i;
///                                                    all zeros withdraws the voter's ballot)
///     reply one verdict per vote: "accepted:<previous ballot>", "unchanged", or the name of a
///           `VoteRejection` (`unknownPoll`, `closed`, `alreadyVoted`, …)
///
/// Time is Redis's own (`TIME`), so every daemon's votes meet one clock at the deadline.
public enum VoteScript {
    /// The script's SHA-1, as EVALSHA names it.
    public static let sha1: String = Insecure.SHA1.hash(data: Array(source.utf8)).map { String(format: "%02x", $0) }.joined()

    public static let source = #"""
        local rules = redis.call('HMGET', KEYS[1], 'state', 'options', 'maxVotes', 'revote', 'closesAt', 'closesOnEnd')
        local verdicts = {}
        if not rules[1] then
          for i = 1, #ARGV, 2 do verdicts[#verdicts + 1] = 'unknownPoll' end
          return verdicts
        end
        local state, options, maxVotes = rules[1], tonumber(rules[2]), tonumber(rules[3])
        local revote, closesAt, closesOnEnd = rules[4] == '1', rules[5], rules[6] == '1'
        local limit = maxVotes == 0 and options or maxVotes
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local expired = closesOnEnd and closesAt ~= '' and now >= tonumber(closesAt)
        local none = '0000000000000000'

        -- The options of a ballot: a set {option = true} and its size, or nil if not 16 hex digits.
        local function chosen(ballot)
          if #ballot ~= 16 or not ballot:match('^[0-9a-f]+$') then return nil end
          local set, count = {}, 0
          for position = 1, 16 do
            local nibble = tonumber(ballot:sub(position, position), 16)
            for bit = 0, 3 do
              if nibble % 2 == 1 then
                set[(16 - position) * 4 + bit] = true
                count = count + 1
              end
              nibble = math.floor(nibble / 2)
            end
          end
          return set, count
        end

        for i = 1, #ARGV, 2 do
          local voter, ballot = ARGV[i], ARGV[i + 1]
          local verdict
          local new, count = chosen(ballot)
          if state == 'draft' then verdict = 'notOpenYet'
          elseif state == 'closed' then verdict = 'closed'
          elseif expired then verdict = 'expired'
          elseif not new then verdict = 'optionOutOfRange'
          else
            for option in pairs(new) do
              if option >= options then verdict = 'optionOutOfRange' end
            end
            if not verdict then
              if count == 0 and not revote then verdict = 'emptyBallot'
              elseif count > limit then verdict = 'tooManyOptions'
              end
            end
          end
          if not verdict then
            local previous = redis.call('HGET', KEYS[2], voter) or none
            if previous == ballot then verdict = 'unchanged'
            elseif previous ~= none and not revote then verdict = 'alreadyVoted'
            else
              local old = chosen(previous)
              for option in pairs(old) do
                if not new[option] then redis.call('HINCRBY', KEYS[3], option, -1) end
              end
              for option in pairs(new) do
                if not old[option] then redis.call('HINCRBY', KEYS[3], option, 1) end
              end
              if previous == none then redis.call('HINCRBY', KEYS[3], 'voters', 1) end
              if ballot == none then
                redis.call('HINCRBY', KEYS[3], 'voters', -1)
                redis.call('HDEL', KEYS[2], voter)
              else
                redis.call('HSET', KEYS[2], voter, ballot)
              end
              verdict = 'accepted:' .. previous
            end
          end
          verdicts[#verdicts + 1] = verdict
        end
        return verdicts
        """#
}
