-- wrk script: POST /api/v1/redemptions, a different claimed voucher (by code) per request.
--   wrk -t2 -c32 -d20s --latency -s bench/redeem.lua http://127.0.0.1:PORT -- \
--       KEY CODES_FILE STORE FIRST PER_THREAD
-- CODES_FILE holds one plaintext code per line (written by bench/redeem.py, deleted after
-- the run). Thread t (1, 2, ...) sends lines FIRST + (t-1)*PER_THREAD + 1 ..
-- FIRST + t*PER_THREAD, each once; a thread that runs out stops (and says so) instead of
-- sending a code twice. Codes are never printed. Prints one "BENCH {json}" line with the
-- figures and status counts.
--
-- wrk 4.1 calls request() once in the first thread before the run, to check the request
-- it builds: that code is taken but never sent ("sent" below excludes it).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  local key, file = args[1], args[2]
  store = args[3]
  local first, per = tonumber(args[4]), tonumber(args[5])
  local lo, hi = first + (tid - 1) * per + 1, first + tid * per
  codes = {}
  local n = 0
  for line in io.lines(file) do
    n = n + 1
    if n > hi then
      break
    end
    if n >= lo then
      codes[#codes + 1] = line
    end
  end
  counter = 0
  exhausted = 0
  ok = 0
  other = 0
  statuses = ""
  problems = ""
  wrk.method = "POST"
  wrk.path = "/api/v1/redemptions"
  wrk.headers["Authorization"] = "Api-Key " .. key
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local code = codes[counter]
  if code == nil then
    -- Out of codes: stop this thread; its last request is a harmless health check.
    exhausted = exhausted + 1
    wrk.thread:stop()
    return wrk.format("GET", "/api/v1/health", {}, nil)
  end
  local body = string.format('{"code": "%s", "store": "%s"}', code, store)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 201 then
    ok = ok + 1
  elseif exhausted > 0 and status == 200 then
    -- the health check sent when the thread ran out of codes
  else
    other = other + 1
    if other <= 5 then
      statuses = statuses .. status .. " "
      -- the problem's stable code (problem bodies never contain the voucher code)
      local problem = body and string.match(body, '"code"%s*:%s*"([%w_]+)"')
      if problem then
        problems = problems .. problem .. " "
      end
    end
  end
end

function done(summary, latency, requests)
  local good, bad, seen, kinds, sent, out, most = 0, 0, "", "", 0, 0, 0
  for i, thread in ipairs(threads) do
    good = good + thread:get("ok")
    bad = bad + thread:get("other")
    seen = seen .. thread:get("statuses")
    kinds = kinds .. thread:get("problems")
    local taken = thread:get("counter") - thread:get("exhausted")
    if i == 1 then
      taken = taken - 1 -- the request() call wrk makes to check the script
    end
    sent = sent + taken
    out = out + thread:get("exhausted")
    most = math.max(most, thread:get("counter"))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p90_ms": %.2f, '
      .. '"p99_ms": %.2f, "max_ms": %.2f, "expected": %d, "unexpected": %d, '
      .. '"unexpected_sample": "%s", "problems": "%s", "socket_errors": %d, '
      .. '"timeouts": %d, "non2xx": %d, "sent": %d, "exhausted": %d, "max_counter": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    good, bad, seen, kinds, e.connect + e.read + e.write, e.timeout, e.status, sent, out,
    most))
end
