-- wrk script: POST /api/v1/members/{external_id}/grants, a coupon benefit through the
-- partner route, a different member and a different Idempotency-Key per request.
--   wrk -t2 -c32 -d20s --latency -s bench/grants.lua http://127.0.0.1:PORT -- \
--       KEY BENEFIT PREFIX RUN
-- Members are "<PREFIX><thread number>-<n>", n = 1, 2, ... per thread (pre-created by
-- bench/entitlements.py); keys are "<RUN>-<thread>-<n>" (RUN tells runs apart). Prints
-- one "BENCH {json}" line with the figures and status counts.

dofile((string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "") .. "_report.lua")
expected_status = 201

function init(args)
  local key = args[1]
  benefit = args[2]
  prefix = args[3] or "g"
  run = args[4] or "run"
  report_init()
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
