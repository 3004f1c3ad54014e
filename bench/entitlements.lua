-- wrk script: GET /api/v1/members/{external_id}/entitlements, a member's benefits page.
--   wrk -t2 -c2 -d20s --latency -s bench/entitlements.lua http://127.0.0.1:PORT -- \
--       KEY PREFIX COUNT
-- Reads "<PREFIX><thread number>-<n>", n cycling over 1..COUNT (members pre-created by
-- bench/entitlements.py, each holding 50 vouchers). Prints one "BENCH {json}" line with
-- the figures and status counts.

dofile((string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "") .. "_report.lua")
expected_status = 200

function init(args)
  local key = args[1]
  prefix = args[2] or "m"
  count = tonumber(args[3] or "1000")
  report_init()
  wrk.method = "GET"
  wrk.headers["Authorization"] = "Api-Key " .. key
end

function request()
  counter = counter + 1
  local n = (counter - 1) % count + 1
  local path = string.format("/api/v1/members/%s%d-%d/entitlements", prefix, tid, n)
  return wrk.format(nil, path)
end
