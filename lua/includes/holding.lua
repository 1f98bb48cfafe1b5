-- holding.lua: the part of a hold that hold.lua and hold_best.lua share.
-- Both scripts use the same KEYS/ARGV layout (see hold.lua's header):
-- KEYS[1] event, [2] seats, [3] sold, [4] booking, [5] expiry, [6] expiries,
-- [7] user count, [8] log, [9] idempotency, [10] hold prefix, [11] free prefix,
-- [12] buyer's rate limit, [13] address's rate limit, [14] event admission
-- limit, [15] buyer's idempotency key count, [16] buyer's live holds;
-- ARGV[1] booking id, [2] user id, [3] fingerprint, [4] policy (admission.lua).

local function hold_fail(status, code, message, extra)
  return respond(KEYS[9], ARGV[3], status, error_body(code, message, extra))
end

-- The event's hold settings, or a reply when no hold may be made. Neither
-- refusal is recorded under the Idempotency-Key: nothing may be written for
-- an event that does not exist, and closed sales may open again.
local function open_event()
  local e = redis.call('HMGET', KEYS[1], 'status', 'holdSeconds', 'maxSeatsPerUser', 'sections')
  if not e[1] then return nil, {404, error_body('event_not_found', 'no such event')} end
  if e[1] ~= 'open' then return nil, {409, error_body('sales_closed', 'sales are closed for this event')} end
  return {hold_ms = tonumber(e[2]) * 1000, max_seats = tonumber(e[3]), sections = e[4]}
end

-- The event's settings, admission, idempotent replay and the live-hold
-- cap, in that order: nothing is written for an event that does not exist
-- (made-up event ids must not mint fresh rate-limit budgets or keys).
-- Returns the event, or nil and the reply to give instead.
local function begin_hold()
  local event, refusal = open_event()
  if not event then return nil, refusal end
  local policy = parse_policy(ARGV[4])
  local now = now_ms()
  local refused = rate_limit({{KEYS[12], policy.user_rate, policy.user_burst},
                              {KEYS[13], policy.ip_rate, policy.ip_burst},
                              {KEYS[14], policy.event_rate, policy.event_burst}}, now)
  if refused then return nil, refused end
  local replay = idem_replay(KEYS[9], ARGV[3])
  if replay then return nil, replay end
  refused = idempotency_cap(KEYS[15], ARGV[3], policy.max_idem_keys)
  if refused then return nil, refused end
  if policy.max_live_holds > 0 and live_holds(KEYS[16], now) >= policy.max_live_holds then
    -- "Not now" (a hold ends and the place is back), so not recorded under the key.
    return nil, {422, error_body('limit_exceeded', 'at most ' .. policy.max_live_holds ..
      ' unpaid holds per buyer for this event: pay for or release one first')}
  end
  return event
end

-- nil when the buyer may take `count` more seats, else the 422 reply.
local function over_limit(event, count)
  local have = tonumber(redis.call('GET', KEYS[7]) or '0')
  if have + count > event.max_seats then
    return hold_fail(422, 'limit_exceeded', 'at most ' .. event.max_seats .. ' seats per buyer for this event (you have ' .. have .. ')')
  end
  return nil
end

-- Holds `seats` (already checked free) for the buyer and answers 201.
local function write_hold(event, seats, prices)
  local event_id, booking_id, user_id = event_id_of(KEYS[1]), ARGV[1], ARGV[2]
  local now = now_ms()
  local deadline = now + event.hold_ms
  local total = 0
  for i, seat in ipairs(seats) do
    local section, row, number = seat_parts(seat)
    redis.call('SET', KEYS[10] .. seat, booking_id, 'PX', event.hold_ms)
    redis.call('ZREM', KEYS[11] .. section, seat)
    total = total + tonumber(prices[i])
  end
  local list = table.concat(seats, ',')
  local b = {id = booking_id, userId = user_id, status = 'held', seats = list, totalCents = total,
             createdAt = now, expiresAt = deadline}
  redis.call('HSET', KEYS[4], 'id', booking_id, 'eventId', event_id, 'userId', user_id, 'status', 'held',
    'seats', list, 'totalCents', total, 'createdAt', now, 'expiresAt', deadline)
  redis.call('SET', KEYS[5], booking_id, 'PX', event.hold_ms)
  redis.call('ZADD', KEYS[6], deadline, booking_id)
  redis.call('ZADD', KEYS[16], deadline, booking_id)
  -- The set lives as long as its longest hold: never shortened (a booking
  -- waiting for its payment may end after this new hold).
  if redis.call('PTTL', KEYS[16]) < event.hold_ms then redis.call('PEXPIREAT', KEYS[16], deadline) end
  redis.call('INCRBY', KEYS[7], #seats)
  redis.call('HINCRBY', KEYS[1], 'held', #seats)
  log_event(KEYS[8], 'booking.initiated', event_id, now, {'bookingId', booking_id, 'userId', user_id, 'seats', list, 'amountCents', total})
  log_event(KEYS[8], 'seat.reserved', event_id, now, {'bookingId', booking_id, 'userId', user_id, 'seats', list, 'expiresAt', deadline})
  return respond(KEYS[9], ARGV[3], 201, booking_json(event_id, booking_id, b))
end
