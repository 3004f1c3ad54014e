-- wrk script: POST /api/v1/members/{external_id}/events, a purchase with a fresh event id
-- and order per request.
--   wrk -t2 -c32 -d20s --latency -s bench/events.lua http://127.0.0.1:PORT -- KEY PREFIX COUNT
-- Members are "<PREFIX><thread number>-<n>", n cycling over 1..COUNT (pre-created by
-- bench/events.py); event ids and order references are "<PREFIX><thread>-<counter>".
-- Prints one "BENCH {json}" line with the figures and status counts.

dofile((string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "") .. "_report.lua")
expected_status = 201

function init(args)
  local key = args[1]
  prefix = args[2] or "m"
  count = tonumber(args[3] or "1000")
  report_init()
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Api-Key " .. key
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local n = (counter - 1) % count + 1
  local id = string.format("%s%d-%d", prefix, tid, counter)
  local body = string.format(
    '{"event_id": "%s", "kind": "purchase", "amount": "128.50", "order_ref": "%s"}', id, id)
  return wrk.format(nil, string.format("/api/v1/members/%s%d-%d/events", prefix, tid, n), nil, body)
end
