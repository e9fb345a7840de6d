-- Issues support sessions through the API and appends each token to $TOKENS_FILE, stopping after
-- $TOKENS tokens: how the load test gets tokens the service really issued.
local key = os.getenv("AGENT_KEY")
local file = io.open(os.getenv("TOKENS_FILE"), "a")
local want = tonumber(os.getenv("TOKENS"))
local got = 0
wrk.method = "POST"
wrk.path = "/v1/sessions"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"channel":{"kind":"telegram","handle":"acme_support"},"ttl_secs":7200}'

response = function(status, headers, body)
  local token = body:match('"token":"([^"]+)"')
  if status == 201 and token then
    file:write(token, "\n")
    got = got + 1
  end
  if got >= want then
    file:flush()
    wrk.thread:stop()
  end
end
