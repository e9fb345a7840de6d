-- POST /v1/reports with one attachment of $ATTACHMENT_BYTES (default 1 MiB), multipart. Each
-- request's attachment differs in its first bytes, so every one is a new content-addressed blob
-- that is really written and fsync'd (identical evidence would be deduplicated).
dofile(os.getenv("SCRIPTS") .. "/report.lua")
local size = tonumber(os.getenv("ATTACHMENT_BYTES") or "1048576")
local boundary = "trustdeskloadboundary7f3a"
local filler
local head = "--" .. boundary .. "\r\n" ..
  'Content-Disposition: form-data; name="report"\r\n' ..
  "Content-Type: application/json\r\n\r\n" ..
  '{"category":"impersonation","description":"load test: fake support asked for a seed phrase"}\r\n' ..
  "--" .. boundary .. "\r\n" ..
  'Content-Disposition: form-data; name="attachment"; filename="chat.png"\r\n' ..
  "Content-Type: image/png\r\n\r\n" ..
  "\137PNG\r\n\26\n"
local tail = "\r\n--" .. boundary .. "--\r\n"
local counter = 0

-- A random run id, so that the warm-up, the measured run and later phases never repeat a payload.
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
local run = math.random(0, 99999999)

setup = function(thread)
  thread:set("id", run * 100 + counter)
  counter = counter + 1
end

init = function(args)
  -- Printable filler (never contains the boundary), minus the signature and the 24-byte stamp.
  filler = string.rep("0123456789abcdef", math.ceil(size / 16)):sub(1, size - 8 - 24)
  n = 0
end

request = function()
  n = n + 1
  local stamp = string.format("%010d-%013d", id or 0, n)
  return wrk.format("POST", "/v1/reports",
    { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary },
    head .. stamp .. filler .. tail)
end
