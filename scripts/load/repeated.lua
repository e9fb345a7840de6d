-- POST /v1/verify with one token, again and again: the cached path.
dofile(os.getenv("SCRIPTS") .. "/report.lua")
local token = io.lines(os.getenv("TOKENS_FILE"))()
wrk.method = "POST"
wrk.path = "/v1/verify"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"input":"' .. token .. '"}'
