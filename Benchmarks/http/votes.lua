-- wrk script: POST votes, cycling through voter tokens (one per line in TOKENS_FILE) so that
-- each request is a real vote (first votes, then revotes with another choice).
local tokens = {}
local path = os.getenv("VOTE_PATH") or "/v1/polls/1/votes"
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  local token = tokens[(i % #tokens) + 1]
  return wrk.format("POST", path,
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
    '{"choices":[' .. (i % 4) .. ']}')
end
