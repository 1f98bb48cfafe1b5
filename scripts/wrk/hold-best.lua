-- wrk driver for scripts/bench-expiry: best-available holds of one seat in
-- section A, one buyer per request (BENCH_TOKENS, one JWT a line). Run it
-- with one thread (-t1): it stops after BENCH_HOLDS answers.
local event = os.getenv("BENCH_EVENT") or "expiry-bench"
local limit = tonumber(os.getenv("BENCH_HOLDS") or "50000")
local tokens, sent, answered = {}, 0, 0
statuses = {}

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
end

function request()
  sent = sent + 1
  local token = tokens[(sent - 1) % #tokens + 1]
  return wrk.format("POST", "/v1/events/" .. event .. "/bookings",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, '{"quantity":1,"section":"A"}')
end

function response(status, headers, body)
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if answered >= limit then wrk.thread:stop() end
end
