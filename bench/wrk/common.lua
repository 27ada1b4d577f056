-- common.lua - shared by the sipward benchmark's wrk scripts (bench/run.sh).
-- Arguments after `--`: MODE [IDS_FILE AUTH_ID AUTH_TOKEN] | MODE PATH
--   retrieve: GET  /v1/Account/A/Endpoint/ID/ rotating over the ids
--   list:     GET  /v1/Account/A/Endpoint/?limit=20, then "&" and the
--             sixth argument when there is one (a deep page: offset=N,
--             or offset=N&after=ID)
--   update:   POST /v1/Account/A/Endpoint/ID/ {"alias": "..."} with an alias
--             never sent before, so every update is a real, durable write;
--             each wrk thread rotates through its own slice of the ids, so
--             the requests in flight at once hit distinct endpoints
--   get PATH / post PATH: a fixed path (the nginx ceilings), the same body
--             as update for post
-- done() prints one line "WRKJSON {...}" that the harness parses.
local M = {}

local threads = {}
local counter = 0

function M.setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local mode, ids, path, auth_id, token, headers, query
local tid, nthreads, lo, hi, idx, seq

local function load_ids(file)
   local t = {}
   for line in io.lines(file) do
      if #line > 0 then t[#t + 1] = line end
   end
   return t
end

function M.init(args)
   mode = args[1]
   tid = _G.tid or 0
   seq = 0
   if mode == "get" or mode == "post" then
      path = args[2]
      headers = {["Content-Type"] = "application/json"}
      return
   end
   ids = load_ids(args[2])
   auth_id, token = args[3], args[4]
   nthreads = tonumber(args[5] or "1")
   query = args[6] and ("&" .. args[6]) or ""
   headers = {["X-Auth-ID"] = auth_id, ["X-Auth-Token"] = token,
              ["Content-Type"] = "application/json"}
   -- this thread's slice of the ids
   local n = #ids
   local per = math.floor(n / nthreads)
   if per < 1 then per = n; lo = 1; hi = n
   else lo = tid * per + 1; hi = lo + per - 1 end
   idx = lo
end

local function next_id()
   local v = ids[idx]
   idx = idx + 1
   if idx > hi then idx = lo end
   return v
end

function M.request()
   seq = seq + 1
   if mode == "retrieve" then
      return wrk.format("GET", "/v1/Account/" .. auth_id .. "/Endpoint/" ..
                        next_id() .. "/", headers)
   elseif mode == "list" then
      return wrk.format("GET", "/v1/Account/" .. auth_id ..
                        "/Endpoint/?limit=20" .. query, headers)
   elseif mode == "update" then
      local body = '{"alias": "w' .. tid .. "x" .. seq .. '"}'
      return wrk.format("POST", "/v1/Account/" .. auth_id .. "/Endpoint/" ..
                        next_id() .. "/", headers, body)
   elseif mode == "get" then
      return wrk.format("GET", path, headers)
   else
      local body = '{"alias": "w' .. tid .. "x" .. seq .. '"}'
      return wrk.format("POST", path, headers, body)
   end
end

function M.done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"err_connect": %d, "err_read": %d, "err_write": %d, ' ..
      '"err_status": %d, "err_timeout": %d, "lat_p50_us": %d, ' ..
      '"lat_p90_us": %d, "lat_p99_us": %d, "lat_mean_us": %.1f, ' ..
      '"lat_max_us": %d}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read,
      e.write, e.status, e.timeout, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency.mean,
      latency.max))
end

return M
