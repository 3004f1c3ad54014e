-- What the wrk scripts of bench/ share: threads numbered 1, 2, ... (`tid`), counting the
-- answers with the expected status, and the one "BENCH {json}" line that
-- bench/_common.run_wrk reads. A script loads it first,
--   dofile((string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "") .. "_report.lua")
-- sets `expected_status`, calls `report_init()` from its `init` and counts its requests
-- in `counter`.

threads = {}
expected_status = 200

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function report_init()
  counter = 0
  ok = 0
  other = 0
  statuses = ""
end

function response(status, headers, body)
  if status == expected_status then
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
