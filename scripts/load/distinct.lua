-- POST /v1/verify (or GET /v/{token} with MODE=link), each request a different token from
-- $TOKENS_FILE, cycling: with a cache smaller than the pool, every request pays the signature.
dofile(os.getenv("SCRIPTS") .. "/report.lua")
local mode = os.getenv("MODE") or "api"
local requests = {}
local counter = 0

setup = function(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end

init = function(args)
  for token in io.lines(os.getenv("TOKENS_FILE")) do
    if mode == "link" then
      requests[#requests + 1] = wrk.format("GET", "/v/" .. token)
    else
      requests[#requests + 1] = wrk.format("POST", "/v1/verify",
        { ["Content-Type"] = "application/json" }, '{"input":"' .. token .. '"}')
    end
  end
  i = offset or 0
end

-- RATE=n paces the run at about n requests/s in total (each connection waits CONNS*1000/RATE ms
-- before each request): the "half of peak load" latency runs.
local rate = tonumber(os.getenv("RATE") or "0")
if rate > 0 then
  local pause = math.max(1, math.floor(tonumber(os.getenv("CONNS")) * 1000 / rate))
  delay = function() return pause end
end

request = function()
  i = i + 1
  return requests[(i % #requests) + 1]
end
