-- wrk script: GET /api/v1/members/{external_id}/entitlements, a member's benefits page.
--   wrk -t2 -c2 -d20s --latency -s bench/entitlements.lua http://127.0.0.1:PORT -- \
--       KEY PREFIX COUNT
-- Reads "<PREFIX><thread number>-<n>", n cycling over 1..COUNT (members pre-created by
-- bench/entitlements.py, each holding 50 vouchers). Prints one "BENCH {json}" line with
-- the figures and status counts.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  local key = args[1]
  prefix = args[2] or "m"
  count = tonumber(args[3] or "1000")
  counter = 0
  ok = 0
  other = 0
  statuses = ""
  wrk.method = "GET"
  wrk.headers["Authorization"] = "Api-Key " .. key
end

function request()
  counter = counter + 1
  local n = (counter - 1) % count + 1
  local path = string.format("/api/v1/members/%s%d-%d/entitlements", prefix, tid, n)
  return wrk.format(nil, path)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  else
    other = other + 1
    if other <= 5 then
      statuses = statuses .. status .. " "
    end
  end
end

function done(summary, latency, requests)
  local good, bad, seen, sent = 0, 0, "", 0
  for _, thread in ipairs(threads) do
    good = good + thread:get("ok")
    bad = bad + thread:get("other")
    seen = seen .. thread:get("statuses")
    sent = math.max(sent, thread:get("counter"))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p90_ms": %.2f, '
      .. '"p99_ms": %.2f, "max_ms": %.2f, "expected": %d, "unexpected": %d, '
      .. '"unexpected_sample": "%s", "socket_errors": %d, "timeouts": %d, '
      .. '"max_counter": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    good, bad, seen, e.connect + e.read + e.write, e.timeout, sent))
end
