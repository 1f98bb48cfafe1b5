-- wrk driver for scripts/bench-payments: each buyer (one token a line in
-- BENCH_TOKENS) holds one best-available seat, then asks to pay with
-- tok_visa. Run with -t1; it stops after BENCH_PAYMENTS payment requests.
-- Responses come back in any order across connections, so each one is
-- recognised by its body; token K belongs to user BENCH_USER_PREFIX..K.
local event = os.getenv("BENCH_EVENT") or "payments-bench"
local limit = tonumber(os.getenv("BENCH_PAYMENTS") or "10000")
-- escaped for use inside a Lua pattern ('-' is a quantifier there)
local prefix = (os.getenv("BENCH_USER_PREFIX") or "pay-buyer"):gsub("%p", "%%%0")
local tokens, next_token, to_pay, paid = {}, 0, {}, 0
statuses = {}

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
end

local function headers(token)
  return {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
end

function request()
  local job = table.remove(to_pay)
  if job then
    return wrk.format("POST", "/v1/events/" .. event .. "/bookings/" .. job.id .. "/payment", headers(job.token),
      '{"paymentToken":"tok_visa"}')
  end
  next_token = next_token % #tokens + 1
  local token = tokens[next_token]
  return wrk.format("POST", "/v1/events/" .. event .. "/bookings", headers(token), '{"quantity":1,"section":"A"}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    local id = string.match(body, '"id":"([^"]+)"')
    local user = tonumber(string.match(body, '"userId":"' .. prefix .. '(%d+)"'))
    if id and user then table.insert(to_pay, {id = id, token = tokens[user]}) end
  elseif status == 202 then
    paid = paid + 1
    if paid >= limit then wrk.thread:stop() end
  end
end
