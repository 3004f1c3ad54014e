-- wrk script: POST /api/v1/batches/{batch}/claims, a distinct member per request.
--   wrk -t2 -c32 -d20s --latency -s bench/claim.lua http://127.0.0.1:PORT -- KEY BATCH PREFIX
-- Members are "<PREFIX><thread number>-<n>", n = 1, 2, ... per thread (pre-created by
-- bench/claim.py). Prints one "BENCH {json}" line with the figures and status counts.

dofile((string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "") .. "_report.lua")
expected_status = 201

function init(args)
  local key, batch = args[1], args[2]
  prefix = args[3] or "m"
  report_init()
  path = "/api/v1/batches/" .. batch .. "/claims"
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Api-Key " .. key
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format('{"member": "%s%d-%d"}', prefix, tid, counter)
  return wrk.format(nil, path, nil, body)
end
