-- wrk script: POST votes, cycling through voter tokens (one per line in TOKENS_FILE) so that
-- each request is a real vote: a first vote, then on each later pass a revote with the next choice. With
-- VOTER_HEADER=1 each line is sent as a trusted proxy's X-Voter-Id instead of a bearer token.
-- VOTE_FORMAT=mastodon sends Mastodon's form body (choices[]=N) instead of the native JSON; with
-- OPTIONS=64 on a 64-option multiple-choice poll, each pass adds the next choice, so every
-- request of 64 passes is an accepted Mastodon vote. VOTE_FORMAT=nextcloud sends Talk's JSON body
-- ({"optionIds":[N]}) with OCS-APIRequest; its TOKENS_FILE lines are whole Authorization values.
-- VOTE_FORMAT=pnut sends pnut's response, PUT VOTE_PATH/N with no body (positions count from 1).
-- VOTE_FORMAT=canvas sends Canvas' submission form (poll_submissions[][poll_choice_id]=N, choice ids
-- 1 to 4): one per voter and session, so its TOKENS_FILE must outlast the run.
local tokens = {}
local path = os.getenv("VOTE_PATH") or "/v1/polls/1/votes"
local viaProxy = os.getenv("VOTER_HEADER") == "1"
local mastodon = os.getenv("VOTE_FORMAT") == "mastodon"
local nextcloud = os.getenv("VOTE_FORMAT") == "nextcloud"
local pnut = os.getenv("VOTE_FORMAT") == "pnut"
local canvas = os.getenv("VOTE_FORMAT") == "canvas"
local options = tonumber(os.getenv("OPTIONS") or "4")
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  local choice = (i + math.floor(i / #tokens)) % options
  local headers = {}
  if viaProxy then headers["X-Voter-Id"] = token else headers["Authorization"] = "Bearer " .. token end
  if canvas then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", path, headers, "poll_submissions%5B%5D%5Bpoll_choice_id%5D=" .. (choice + 1))
  end
  if pnut then
    return wrk.format("PUT", path .. "/" .. (choice + 1), headers, "")
  end
  if nextcloud then
    headers["Authorization"] = token
    headers["OCS-APIRequest"] = "true"
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", path, headers, '{"optionIds":[' .. choice .. ']}')
  end
  if mastodon then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", path, headers, "choices%5B%5D=" .. choice)
  end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", path, headers, '{"choices":[' .. choice .. ']}')
end
