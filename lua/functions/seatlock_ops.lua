#!lua name=seatlock_ops
--[[ Read-only operator functions (Redis 7 Functions), for redis-cli:

  FCALL_RO seatlock_event_stats 3 sl:{E}:event sl:{E}:sold sl:{E}:free:
    -> capacity, sold, held (booking counter), free, and whether
       sold + held + free == capacity ("consistent" 1/0; a hold whose key
       lapsed but whose booking the sweeper has not ended yet makes it 0 for
       a moment).
  FCALL_RO seatlock_seat_info 3 sl:{E}:seats sl:{E}:sold sl:{E}:hold:SEAT SEAT
    -> status (free | held | sold), price, the booking holding or owning it,
       and the hold's remaining ms.
  FCALL_RO seatlock_booking_info 2 sl:{E}:booking:B sl:{E}:expiry:B
    -> every field of the booking, and its hold timer's remaining ms.

Every key is in KEYS except the per-section free sets, built from the
`sl:{E}:free:` prefix (same {E} hash slot). Loaded by `seatlock serve` /
`seatlock scripts` with FUNCTION LOAD REPLACE; flagged no-writes, so
FCALL_RO (and replicas) accept them.
]]

local function hash(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil, flat end
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t, flat
end

local function event_stats(keys)
  local e = hash(keys[1])
  if not e then return redis.error_reply('no such event: ' .. keys[1]) end
  local free = 0
  for section in string.gmatch(e.sections or '', '([^:,]+):[^,]*') do
    free = free + redis.call('ZCARD', keys[3] .. section)
  end
  local capacity, held, sold = tonumber(e.capacity), tonumber(e.held or 0), redis.call('HLEN', keys[2])
  local consistent = (sold + held + free == capacity) and 1 or 0
  return {'capacity', capacity, 'sold', sold, 'held', held, 'free', free, 'consistent', consistent,
          'soldCounter', tonumber(e.sold or 0), 'status', e.status}
end

local function seat_info(keys, args)
  local seat = args[1]
  local price = redis.call('HGET', keys[1], seat)
  if not price then return redis.error_reply('no such seat: ' .. tostring(seat)) end
  local owner = redis.call('HGET', keys[2], seat)
  local holder = redis.call('GET', keys[3])
  local status, booking = 'free', ''
  if owner then status, booking = 'sold', owner elseif holder then status, booking = 'held', holder end
  local ttl = holder and redis.call('PTTL', keys[3]) or -2
  return {'seat', seat, 'status', status, 'priceCents', tonumber(price), 'booking', booking, 'holdTtlMs', ttl}
end

local function booking_info(keys)
  local b, flat = hash(keys[1])
  if not b then return redis.error_reply('no such booking: ' .. keys[1]) end
  flat[#flat + 1] = 'timerTtlMs'
  flat[#flat + 1] = redis.call('PTTL', keys[2])
  return flat
end

redis.register_function{function_name = 'seatlock_event_stats', callback = event_stats, flags = {'no-writes'}}
redis.register_function{function_name = 'seatlock_seat_info', callback = seat_info, flags = {'no-writes'}}
redis.register_function{function_name = 'seatlock_booking_info', callback = booking_info, flags = {'no-writes'}}
