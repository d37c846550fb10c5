-- One benchmark scenario for wrk, the same script for our API and the floor. Set by run.py:
--   BENCH_METHOD  GET, POST, PUT or PATCH
--   BENCH_PATH    the path; "{id}" in it is replaced by the next of BENCH_IDS, per request
--   BENCH_IDS     space-separated task ids to rotate through (optional)
--   BENCH_BODY    a JSON body (optional; sent with Content-Type: application/json)
--   BENCH_TOKEN   the bearer token
-- done() prints one line, "BENCH_JSON {...}", with latency percentiles in microseconds.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH")
local body = os.getenv("BENCH_BODY")
if body == "" then body = nil end

local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "", "%S+") do
  ids[#ids + 1] = id
end

local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }
if body then headers["Content-Type"] = "application/json" end

local fixed = nil
local threads = {}
local counter = 0
-- Per thread (each has its own Lua state); done() adds them up through thread:get().
non2xx = 0

function setup(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  -- wrk.init (run before this) has put "host:port" in wrk.headers; wrk.format alone would omit the port.
  headers["Host"] = wrk.headers["Host"]
  -- Requests that do not vary are formatted once.
  if #ids == 0 then fixed = wrk.format(method, path, headers, body) end
  -- Threads start at different tasks, so they do not write the same rows in step.
  counter = thread_index * 397
end

function request()
  if fixed then return fixed end
  counter = counter + 1
  local target = string.gsub(path, "{id}", ids[counter % #ids + 1])
  return wrk.format(method, target, headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
      '"max_us":%d,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, bad, errors.connect + errors.read + errors.write + errors.timeout))
end
