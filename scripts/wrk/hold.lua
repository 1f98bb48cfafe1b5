-- wrk driver for scripts/bench-hold: explicit 2-seat holds (adjacent seats
-- in a random row) by buyers drawn at random from a token file.
-- Environment: BENCH_TOKENS (file, one JWT a line), BENCH_EVENT,
-- BENCH_ROWS, BENCH_SEATS_PER_ROW; BENCH_FORWARDED=1 sends each buyer's own
-- address (10.x.y.z, from its token's line) as X-Forwarded-For, as a load
-- balancer would; BENCH_DELAY_MS paces each connection (a request, then
-- on average that long after its answer): an offered load below saturation.
local event = os.getenv("BENCH_EVENT") or "bench-http"
local rows = tonumber(os.getenv("BENCH_ROWS") or "250")
local per_row = tonumber(os.getenv("BENCH_SEATS_PER_ROW") or "1000")
local forwarded = os.getenv("BENCH_FORWARDED") == "1"
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "")
local tokens = {}
local threads = {}
statuses = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
  math.randomseed(os.time() * 1000 + (id or 0))
end

function request()
  local index = math.random(#tokens)
  local token = tokens[index]
  local row = math.random(rows)
  local number = math.random(per_row - 1)
  local body = string.format('{"seats":["A-%d-%d","A-%d-%d"]}', row, number, row, number + 1)
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if forwarded then
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(index / 65536) % 256, math.floor(index / 256) % 256, index % 256)
  end
  return wrk.format("POST", "/v1/events/" .. event .. "/bookings", headers, body)
end

if pause then
  -- Drawn anew each time, 0 to twice the mean: a fixed pause lines the
  -- connections up into waves that arrive together (queueing, not latency).
  function delay() return math.random(0, 2 * pause) end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do total[status] = (total[status] or 0) + count end
  end
  local parts = {}
  for status, count in pairs(total) do parts[#parts + 1] = status .. "=" .. count end
  table.sort(parts)
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
  io.write(string.format("latency: p50=%.2fms p99=%.2fms max=%.2fms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
