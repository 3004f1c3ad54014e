-- wrk script: POST /api/v1/members/{external_id}/grants, a coupon benefit through the
-- partner route, a different member and a different Idempotency-Key per request.
--   wrk -t2 -c32 -d20s --latency -s bench/grants.lua http://127.0.0.1:PORT -- \
--       KEY BENEFIT PREFIX RUN
-- Members are "<PREFIX><thread number>-<n>", n = 1, 2, ... per thread (pre-created by
-- bench/entitlements.py); keys are "<RUN>-<thread>-<n>" (RUN tells runs apart). Prints
-- one "BENCH {json}" line with the figures and status counts.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  local key = args[1]
  benefit = args[2]
  prefix = args[3] or "g"
  run = args[4] or "run"
  counter = 0
  ok = 0
  other = 0
  statuses = ""
  body = string.format('{"benefit": "%s", "via": "api", "channel": "bench"}', benefit)
  auth = "Api-Key " .. key
  wrk.method = "POST"
end

function request()
  counter = counter + 1
  -- wrk.format takes these headers instead of wrk.headers: all of them are given here.
  local headers = {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("%s-%d-%d", run, tid, counter),
  }
  local path = string.format("/api/v1/members/%s%d-%d/grants", prefix, tid, counter)
  return wrk.format(nil, path, headers, body)
end

function response(status, headers, body)
  if status == 201 then
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
