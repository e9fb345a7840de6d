-- GET /healthz: the same server's floor for one request through the whole middleware stack.
dofile(os.getenv("SCRIPTS") .. "/report.lua")
wrk.path = "/healthz"
