-- Escalation claims at a constant queue depth: POST /v1/escalations/claim, and every claimed item
-- is released again (POST /v1/escalations/{id}/release) by the next request on the thread, as
-- $SEC_KEY. Both are committed, audited writes; the depth stays where the seeding put it.
dofile(os.getenv("SCRIPTS") .. "/report.lua")
local key = os.getenv("SEC_KEY")
local held = {}

init = function(args)
  wrk.headers["Authorization"] = "Bearer " .. key
end

request = function()
  local id = table.remove(held)
  if id then
    return wrk.format("POST", "/v1/escalations/" .. id .. "/release")
  end
  return wrk.format("POST", "/v1/escalations/claim")
end

response = function(status, headers, body)
  if status == 200 and body:find('"state":"claimed"', 1, true) then
    held[#held + 1] = body:match('"id":"([^"]+)"')
  end
end
