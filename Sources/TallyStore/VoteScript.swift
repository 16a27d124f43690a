import Crypto
import Foundation

/// The Lua script that records votes in Redis, the authority across daemons: it checks each ballot
/// against the poll's rules and the voter's stored ballot, and applies the counter deltas, all in
/// one atomic step. Loaded once (SCRIPT LOAD), called with EVALSHA; a call answered NOSCRIPT goes
/// again with the source (EVAL), which loads it back.
///
///     KEYS  {p:ID}:poll (rules and tallies), {p:ID}:ballots
///     ARGV  the call's deadline (Redis' time in µs), then the votes' voter ids, then their
///           ballots in the same order (so the ids go to HMGET as they are): deadline, voter 1,
///           …, voter n, ballot 1, …, ballot n (a ballot is 16 lowercase hex digits, bit i =
///           option i; all zeros withdraws the ballot; with a `+` before them, the options are
///           added to the voter's ballot instead, as Mastodon counts votes: a choice made already,
///           or a second vote on a single-choice poll, is `alreadyVoted`)
///     reply one verdict per vote: if accepted, the ballot it replaced (16 hex digits); else
///           "unchanged", "late" or the name of a `VoteRejection` (`unknownPoll`, `closed`,
///           `alreadyVoted`, …); then the poll's tallies after the batch: {version, voters,
///           option 0, option 1, …} (`version` grows with every batch that changed a ballot;
///           empty if the poll is unknown); then Redis' time (µs), from which the daemon learns
///           its clock
///
/// Time is Redis's own (`TIME`), so every daemon's votes meet one clock at a poll's end date.
/// The deadline makes a 503 mean "not stored": a daemon gives up on a call (and answers its
/// votes 503) once it has waited `timeout_ms`, but a stalled Redis may still run the call when it
/// resumes. The daemon sends the moment it may give up, in Redis' clock (`RedisClock`), and a
/// call run at or after it stores nothing and answers every vote "late".
///
/// Written for Redis' Lua, where converting between numbers and strings is what costs (each
/// `tostring`, `tonumber` or number passed to `redis.call` formats or parses one): field names are
/// string constants, ballots pass through as text, and only the counters a batch moved are
/// formatted, all written in one HSET (one HINCRBY each cost more: a command and an AOF entry
/// apiece). Per vote, what costs is Lua's tables growing, so the vote loop adds one key to one
/// hash table (`stored`) and appends to arrays; a ballot is parsed into one array of options.
/// `Benchmarks/run-scripts` counts its instructions in Redis (AOF on): 195 k per call of 1 vote,
/// 386 k of 9, 832 k of 50, of which ~17 k per call is the deadline's `TIME` (177 k, 370 k, 825 k
/// before it). These choices took off about a quarter (238 k → 178 k, 498 k → 354 k,
/// 1 012 k → 755 k, counted while the benchmark still re-sent some voters of its earlier sizes).
public enum VoteScript {
    /// The script's SHA-1, as EVALSHA names it.
    public static let sha1: String = Insecure.SHA1.hash(data: Array(source.utf8)).map { String(format: "%02x", $0) }.joined()

    public static let source = #"""
        local votes = (#ARGV - 1) / 2
        local verdicts = {}
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        if now >= tonumber(ARGV[1]) then
          for n = 1, votes do verdicts[n] = 'late' end
          verdicts[votes + 1], verdicts[votes + 2] = {}, now
          return verdicts
        end
        local rules = redis.call('HMGET', KEYS[1], 'state', 'options', 'maxVotes', 'revote', 'closesAt', 'closesOnEnd')
        if not rules[1] then
          for n = 1, votes do verdicts[n] = 'unknownPoll' end
          verdicts[votes + 1], verdicts[votes + 2] = {}, now
          return verdicts
        end
        local state, options, maxVotes = rules[1], tonumber(rules[2]), tonumber(rules[3])
        local revote, closesAt, closesOnEnd = rules[4] == '1', rules[5], rules[6] == '1'
        local limit = maxVotes == 0 and options or maxVotes
        local expired = closesOnEnd and closesAt ~= '' and now >= tonumber(closesAt)
        local none = '0000000000000000'
        -- Field names of options 0 to 63, as strings: passing numbers to redis.call, or tostring, costs a
        -- number formatting each.
        local names = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15', '16', '17', '18',
          '19', '20', '21', '22', '23', '24', '25', '26', '27', '28', '29', '30', '31', '32', '33', '34', '35', '36', '37',
          '38', '39', '40', '41', '42', '43', '44', '45', '46', '47', '48', '49', '50', '51', '52', '53', '54', '55', '56',
          '57', '58', '59', '60', '61', '62', '63'}
        local chunk = 1000  -- arguments per command: unpack() is limited to a few thousand values

        -- The options of a ballot, highest first ({} for none), or false if the ballot is not 16
        -- lowercase hex digits (as the daemon writes and reads them). Remembered for the batch: its
        -- voters choose among few ballots. string.find skips a ballot's zeros at once (most of its
        -- digits).
        local parsed = {[none] = {}}
        local function parse(ballot)
          if #ballot ~= 16 then return false end
          local list, count = {}, 0
          local position = string.find(ballot, '[^0]')
          while position do
            local digit = string.sub(ballot, position, position)
            local nibble = tonumber(digit, 16)
            if not nibble or nibble > 9 and digit < 'a' then return false end  -- tonumber reads 'A' too
            -- The digit's bits, highest first: 8, 4, 2, 1 are options top, top - 1, top - 2, top - 3.
            local top = (16 - position) * 4 + 3
            if nibble >= 8 then count = count + 1; list[count] = top; nibble = nibble - 8 end
            if nibble >= 4 then count = count + 1; list[count] = top - 1; nibble = nibble - 4 end
            if nibble >= 2 then count = count + 1; list[count] = top - 2; nibble = nibble - 2 end
            if nibble >= 1 then count = count + 1; list[count] = top - 3 end
            position = string.find(ballot, '[^0]', position + 1)
          end
          return list
        end
        local function chosen(ballot)
          if parsed[ballot] == nil then parsed[ballot] = parse(ballot) end
          return parsed[ballot]
        end

        -- A voter's ballot with a `+` ballot's options added: their union, or false if the two share
        -- an option; a hex digit at a time (Lua's numbers hold 53 bits, a ballot 64). Remembered
        -- for the batch, by the pair: its voters choose among few ballots.
        local digits = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'}
        local unions = {}
        local function union(a, b)
          if a == none then return b end
          local withA = unions[a]
          if not withA then
            withA = {}
            unions[a] = withA
          end
          local known = withA[b]
          if known ~= nil then return known end
          local out = {}
          for i = 1, 16 do
            local x, y = tonumber(string.sub(a, i, i), 16), tonumber(string.sub(b, i, i), 16)
            if bit.band(x, y) ~= 0 then
              withA[b] = false
              return false
            end
            out[i] = digits[bit.bor(x, y) + 1]
          end
          known = table.concat(out)
          withA[b] = known
          return known
        end
        local added = {}  -- '+' ballots without their '+'

        -- Applies command(key, values…) to a list of values, a chunk at a time.
        local function inChunks(command, key, values)
          for first = 1, #values, chunk do
            redis.call(command, key, unpack(values, first, math.min(first + chunk - 1, #values)))
          end
        end

        -- Every voter's stored ballot, read at once; updated below as the batch goes, so a voter who
        -- votes twice in one batch is judged against their first vote.
        local stored = {}
        if state == 'open' and not expired then
          for first = 2, votes + 1, chunk do
            local last = math.min(first + chunk - 1, votes + 1)
            local ballots = redis.call('HMGET', KEYS[2], unpack(ARGV, first, last))
            for n = first, last do stored[ARGV[n]] = ballots[n - first + 1] or none end
          end
        end

        -- What is wrong with a ballot on its own (a rejection's name), or false: judged once per
        -- distinct ballot in the batch, and remembered in `problems` (looked up inline below: a
        -- function call per vote costs more than the lookup).
        local problems = {}
        local function judge(ballot)
          local new, known = chosen(ballot), false
          if not new or (new[1] or -1) >= options then known = 'optionOutOfRange'
          elseif #new == 0 and not revote then known = 'emptyBallot'
          elseif #new > limit then known = 'tooManyOptions' end
          problems[ballot] = known
          return known
        end

        -- The batch's changes: final ballots, and how many voters moved from each ballot to each
        -- other, turned into counter deltas once per distinct pair below (a batch's voters choose
        -- among few ballots; per vote, this loop is the script's cost).
        local refusal = (state == 'draft' and 'notOpenYet') or (expired and 'expired') or (state == 'closed' and 'closed')
        -- Accepted ballots are written in the order they came, so of a voter's votes in one batch
        -- HSET keeps the last; a withdrawal is deleted only if it was the voter's last (below).
        local moves = {}
        local writes, written, removals = {}, 0, {}
        for n = 1, votes do
          local voter, ballot = ARGV[n + 1], ARGV[votes + n + 1]
          local adds = string.byte(ballot) == 43  -- '+'
          if adds then
            local plain = added[ballot]
            if not plain then
              plain = string.sub(ballot, 2)
              added[ballot] = plain
            end
            ballot = plain
          end
          local verdict = refusal or problems[ballot]
          if verdict == nil then verdict = judge(ballot) end
          if not verdict then
            local previous = stored[voter]
            if adds then
              local all = false  -- a second vote on a single-choice poll adds nothing
              if limit ~= 1 or previous == none then all = union(previous, ballot) end
              if not all then verdict = 'alreadyVoted'
              else
                ballot = all
                if #chosen(ballot) > limit then verdict = 'tooManyOptions' end
              end
            elseif previous == ballot then verdict = 'unchanged'
            elseif previous ~= none and not revote then verdict = 'alreadyVoted' end
            if not verdict then
              local to = moves[previous]
              if not to then
                to = {}
                moves[previous] = to
              end
              to[ballot] = (to[ballot] or 0) + 1
              stored[voter] = ballot
              if ballot == none then removals[#removals + 1] = voter
              else
                written = written + 2
                writes[written - 1], writes[written] = voter, ballot
              end
              verdict = previous  -- accepted: the ballot it replaces
            end
          end
          verdicts[n] = verdict
        end

        -- An option in both the old and the new ballot gets -voters and +voters: no change.
        local deltas, voterDelta = {}, 0
        for previous, to in pairs(moves) do
          local old = chosen(previous)
          for ballot, voters in pairs(to) do
            for _, option in ipairs(old) do deltas[option] = (deltas[option] or 0) - voters end
            for _, option in ipairs(chosen(ballot)) do deltas[option] = (deltas[option] or 0) + voters end
            if previous == none then voterDelta = voterDelta + voters end
            if ballot == none then voterDelta = voterDelta - voters end
          end
        end

        inChunks('HSET', KEYS[2], writes)
        if #removals > 0 then
          local withdrawn = {}
          for _, voter in ipairs(removals) do
            if stored[voter] == none then withdrawn[#withdrawn + 1] = voter end
          end
          inChunks('HDEL', KEYS[2], withdrawn)
        end
        -- The tallies after the batch, for the daemon's results (every daemon's votes): read, the
        -- batch's deltas added here, and the counters that moved written back in one HSET.
        local tallies = redis.call('HMGET', KEYS[1], 'version', 'voters', unpack(names, 1, options))
        if next(moves) ~= nil then  -- some vote was accepted
          tallies[1] = string.format('%d', (tonumber(tallies[1]) or 0) + 1)
          local updates = {'version', tallies[1]}
          if voterDelta ~= 0 then
            tallies[2] = string.format('%d', (tonumber(tallies[2]) or 0) + voterDelta)
            updates[3], updates[4] = 'voters', tallies[2]
          end
          for option, delta in pairs(deltas) do
            if delta ~= 0 then
              tallies[option + 3] = string.format('%d', (tonumber(tallies[option + 3]) or 0) + delta)
              updates[#updates + 1] = names[option + 1]
              updates[#updates + 1] = tallies[option + 3]
            end
          end
          redis.call('HSET', KEYS[1], unpack(updates))
        end
        verdicts[votes + 1], verdicts[votes + 2] = tallies, now
        return verdicts
        """#
}
