-- holding.lua: the part of a hold that hold.lua and hold_best.lua share.
-- Keys and arguments come from the caller: `h`, one table the script builds
-- from its KEYS/ARGV (its header lists them), with the fields
--   keys:      event seats sold booking expiry expiries user log idem
--              hold_prefix free_prefix user_limit address_limit event_limit
--              idem_count live queue tried told bookings
--   arguments: booking_id user_id fingerprint policy (admission.lua) position

local function hold_fail(h, status, code, message, extra)
  -- An admitted buyer who found no seats: the queue counts such misses in a
  -- row to tell remnants nobody takes from seats still selling (queue_tick.lua).
  if status == 409 and h.admitted then redis.call('HINCRBY', h.queue, 'misses', 1) end
  return respond(h.idem, h.fingerprint, status, error_body(code, message, extra))
end

-- The event's hold settings, or a reply when no hold may be made. Neither
-- refusal is recorded under the Idempotency-Key: nothing may be written for
-- an event that does not exist, and closed sales may open again.
local function open_event(event_key)
  local e = redis.call('HMGET', event_key, 'status', 'holdSeconds', 'maxSeatsPerUser', 'sections', 'queue')
  if not e[1] then return nil, {404, error_body('event_not_found', 'no such event')} end
  if e[1] == 'cancelled' then return nil, {409, error_body('event_cancelled', 'this event was cancelled')} end
  if e[1] ~= 'open' then return nil, {409, error_body('sales_closed', 'sales are closed for this event')} end
  return {hold_ms = tonumber(e[2]) * 1000, max_seats = tonumber(e[3]), sections = e[4], queued = e[5] ~= false}
end

-- A queued event sells only to admitted buyers (invariant 8). The loop
-- verified the admission token's signature, buyer, event and deadline; the
-- queue itself must have reached its position. Not recorded under the
-- Idempotency-Key: a refusal changes nothing (but the attempt is counted, below).
local function check_admission(h, event)
  if not event.queued then return nil end -- (the event hash says so: no read of the queue for a direct sale)
  if h.position == '' then
    return {403, error_body('admission_required', 'this event sells through its queue: join at POST /v1/events/{id}/queue and send the Admission header')}
  end
  local q = redis.call('HMGET', h.queue, 'serving', 'misses')
  if tonumber(h.position) > tonumber(q[1] or '0') then
    return {403, error_body('admission_invalid', 'the queue has not admitted this position')}
  end
  h.admitted, h.misses = true, tonumber(q[2] or '0')
  -- An admitted buyer who tries is done shopping, whether this hold succeeds
  -- or not: automatic admission counts each position once (queue_tick.lua).
  if redis.call('SETBIT', h.tried, h.position, 1) == 0 then redis.call('HINCRBY', h.queue, 'tried', 1) end
  -- (and was told, whether or not its loop's report of that reached Redis)
  if redis.call('SETBIT', h.told, h.position, 1) == 0 then redis.call('HINCRBY', h.queue, 'told', 1) end
  return nil
end

-- The event's settings, admission, the rate limits, idempotent replay and
-- the live-hold cap, in that order: nothing is written for an event that
-- does not exist (made-up event ids must not mint fresh rate-limit budgets
-- or keys). The rate limits are only checked here: write_hold spends them,
-- so a refusal after this (seat taken, sold out, a limit) costs reads only.
-- Returns the event, or nil and the reply to give instead.
local function begin_hold(h)
  local event, refusal = open_event(h.event)
  if not event then return nil, refusal end
  refusal = check_admission(h, event)
  if refusal then return nil, refusal end
  local policy = parse_policy(h.policy)
  local now = now_ms()
  event.now = now
  event.rate_updates, refusal = rate_check({{h.user_limit, policy.user_rate, policy.user_burst},
                                           {h.address_limit, policy.ip_rate, policy.ip_burst},
                                           {h.event_limit, policy.event_rate, policy.event_burst}}, now)
  if refusal then return nil, refusal end
  local replay = idem_replay(h.idem, h.fingerprint)
  if replay then return nil, replay end
  refusal = idempotency_cap(h.idem_count, h.fingerprint, policy.max_idem_keys)
  if refusal then return nil, refusal end
  if policy.max_live_holds > 0 and live_holds(h.live, now) >= policy.max_live_holds then
    -- "Not now" (a hold ends and the place is back), so not recorded under the key.
    return nil, {422, error_body('limit_exceeded', 'at most ' .. policy.max_live_holds ..
      ' unpaid holds per buyer for this event: pay for or release one first')}
  end
  return event
end

-- nil when the buyer may take `count` more seats, else the 422 reply.
local function over_limit(h, event, count)
  local have = tonumber(redis.call('GET', h.user) or '0')
  if have + count > event.max_seats then
    return hold_fail(h, 422, 'limit_exceeded', 'at most ' .. event.max_seats .. ' seats per buyer for this event (you have ' .. have .. ')')
  end
  return nil
end

-- Holds `seats` (already checked free) for the buyer and answers 201.
local function write_hold(h, event, seats, prices)
  local event_id, booking_id, user_id = event_id_of(h.event), h.booking_id, h.user_id
  local now = event.now
  rate_spend(event.rate_updates, now)
  local deadline = now + event.hold_ms
  local total = 0
  for i, seat in ipairs(seats) do
    redis.call('SET', h.hold_prefix .. seat, booking_id, 'PX', event.hold_ms)
    total = total + tonumber(prices[i])
  end
  local sections, groups = by_section(seats)
  for _, section in ipairs(sections) do -- (the row index may now overstate a row: see row_index.lua)
    redis.call('ZREM', h.free_prefix .. section, unpack(groups[section]))
  end
  local list = table.concat(seats, ',')
  local b = {id = booking_id, userId = user_id, status = 'held', seats = list, totalCents = total,
             createdAt = now, expiresAt = deadline}
  redis.call('HSET', h.booking, 'id', booking_id, 'eventId', event_id, 'userId', user_id, 'status', 'held',
    'seats', list, 'totalCents', total, 'createdAt', now, 'expiresAt', deadline)
  index_booking(h.bookings, b)
  redis.call('SET', h.expiry, booking_id, 'PX', event.hold_ms)
  redis.call('ZADD', h.expiries, deadline, booking_id)
  -- (An entry whose end was missed is not counted after its deadline, and
  -- leaves with the set: no trimming here.)
  redis.call('ZADD', h.live, deadline, booking_id)
  -- The set lives as long as its longest hold: never shortened (a booking
  -- waiting for its payment may end after this new hold).
  if redis.call('PTTL', h.live) < event.hold_ms then redis.call('PEXPIREAT', h.live, deadline) end
  redis.call('INCRBY', h.user, #seats)
  redis.call('HINCRBY', h.event, 'held', #seats)
  local fields = {'bookingId', booking_id, 'userId', user_id, 'seats', list, 'amountCents', total}
  if event.queued then
    if h.misses > 0 then redis.call('HSET', h.queue, 'misses', 0) end -- (seats still sell: no remnants)
    redis.call('HSET', h.booking, 'position', h.position)
    fields[#fields + 1] = 'position'
    fields[#fields + 1] = h.position
  end
  log_event(h.log, 'booking.initiated', event_id, now, fields)
  log_event(h.log, 'seat.reserved', event_id, now, {'bookingId', booking_id, 'userId', user_id, 'seats', list, 'expiresAt', deadline})
  return respond(h.idem, h.fingerprint, 201, booking_json(event_id, booking_id, b))
end
