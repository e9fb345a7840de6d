-- The mixed public workload: in every run of 10 requests, 5 distinct-token verifies
-- (POST /v1/verify), 3 channel checks (GET /v1/channels/check; official and look-alike handles)
-- and 2 report-status reads by receipt holders (GET /v1/reports/{id}). Tokens from $TOKENS_FILE,
-- "id receipt" pairs from $RECEIPTS_FILE.
dofile(os.getenv("SCRIPTS") .. "/report.lua")
local verifies, checks, statuses = {}, {}, {}
local counter = 0

setup = function(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end

init = function(args)
  for token in io.lines(os.getenv("TOKENS_FILE")) do
    verifies[#verifies + 1] = wrk.format("POST", "/v1/verify",
      { ["Content-Type"] = "application/json" }, '{"input":"' .. token .. '"}')
  end
  for n = 0, 99 do
    local handle = (n % 4 == 0) and "%40acme_support" or ("%40acme_support_" .. n)
    checks[#checks + 1] = wrk.format("GET", "/v1/channels/check?kind=telegram&value=" .. handle)
  end
  for line in io.lines(os.getenv("RECEIPTS_FILE")) do
    local id, receipt = line:match("(%S+) (%S+)")
    statuses[#statuses + 1] = wrk.format("GET", "/v1/reports/" .. id,
      { ["Authorization"] = "Bearer " .. receipt })
  end
  i = offset or 0
end

request = function()
  i = i + 1
  local k = i % 10
  if k < 5 then
    return verifies[(i % #verifies) + 1]
  elseif k < 8 then
    return checks[(i % #checks) + 1]
  else
    return statuses[(i % #statuses) + 1]
  end
end
