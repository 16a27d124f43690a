-- wrk script: POST votes, cycling through voter tokens (one per line in TOKENS_FILE) so that
-- each request is a real vote: a first vote, then on each later pass a revote with the next choice. With
-- VOTER_HEADER=1 each line is sent as a trusted proxy's X-Voter-Id instead of a bearer token.
local tokens = {}
local path = os.getenv("VOTE_PATH") or "/v1/polls/1/votes"
local viaProxy = os.getenv("VOTER_HEADER") == "1"
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  local choice = (i + math.floor(i / #tokens)) % 4
  local headers = { ["Content-Type"] = "application/json" }
  if viaProxy then headers["X-Voter-Id"] = token else headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", path, headers, '{"choices":[' .. choice .. ']}')
end
