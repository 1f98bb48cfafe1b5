-- waitlist.lua: seats that come back go to the waitlist first (invariant 9).
-- Included by ending.lua's users after common, seats, row_index and booking_index. Keys come
-- from the caller's `k` (ending.lua) with these fields as well:
--   seats           sl:{E}:seats       seat id -> price
--   waitlist        sl:{E}:waitlist    sorted set: waiting buyers by position;
--                                      waitlist .. ':' .. U is buyer U's entry (hash)
--   booking_prefix  sl:{E}:booking:    an offer is a new held booking (booking:ID)
--   expiry_prefix   sl:{E}:expiry:     and its hold timer (expiry:ID)
--   bookings        sl:{E}:bookings    and the booking lists (booking_index.lua)
-- Offer bookings are 'w' + 19 hex digits of SHA1(event:n), n counted by offersMade.
-- An entry: id userId status (waiting|offered|expired|left|cancelled) position quantity
-- section ('' = any) joinedAt [bookingId offerExpiresAt]; 'purchased' is read
-- from the offer's booking (waitlist_get.lua). The event hash counts
-- waitlistJoined (positions given) and waitlistSeats (seats the waiting want).

-- How many waiting entries one return looks at: a return is one script
-- call, so its cost stays bounded however long the waitlist is.
local waitlist_scan = 50

-- `quantity` seats for an entry out of `seats`, in the entry's section (any
-- section with enough when it named none), in the order they came back
-- (a booking's seats are usually side by side). Returns picked, rest; nil when none fit.
local function pick_seats(seats, quantity, section)
  local counts = {}
  for _, seat in ipairs(seats) do
    local s = seat_parts(seat)
    counts[s] = (counts[s] or 0) + 1
  end
  local target = section ~= '' and section or nil
  if not target then
    for _, seat in ipairs(seats) do
      local s = seat_parts(seat)
      if counts[s] >= quantity then target = s break end
    end
  end
  if not target or (counts[target] or 0) < quantity then return nil end
  local picked, rest = {}, {}
  for _, seat in ipairs(seats) do
    if #picked < quantity and seat_parts(seat) == target then picked[#picked + 1] = seat else rest[#rest + 1] = seat end
  end
  return picked, rest
end

-- Holds `seats` for waitlisted buyer `user_id` as a new booking (as a hold
-- by that buyer would) and marks the entry offered.
local function make_offer(k, user_id, entry_key, position, quantity, seats, hold_ms, now)
  local event_id = event_id_of(k.event)
  -- Unique across events (a payment provider's idempotency key is the booking id), readable, no random source needed.
  local booking_id = 'w' .. string.sub(redis.sha1hex(event_id .. ':' .. redis.call('HINCRBY', k.event, 'offersMade', 1)), 1, 19)
  local deadline = now + hold_ms
  local prices = redis.call('HMGET', k.seats, unpack(seats))
  local total = 0
  for i, seat in ipairs(seats) do
    redis.call('SET', k.hold_prefix .. seat, booking_id, 'PX', hold_ms)
    total = total + tonumber(prices[i])
  end
  local list = table.concat(seats, ',')
  redis.call('HSET', k.booking_prefix .. booking_id, 'id', booking_id, 'eventId', event_id, 'userId', user_id, 'status', 'held',
    'seats', list, 'totalCents', total, 'createdAt', now, 'expiresAt', deadline, 'waitlistEntry', user_id)
  index_booking(k.bookings, {id = booking_id, userId = user_id, status = 'held', createdAt = now})
  redis.call('SET', k.expiry_prefix .. booking_id, booking_id, 'PX', hold_ms)
  redis.call('ZADD', k.expiries, deadline, booking_id)
  local live = k.user_prefix .. user_id .. ':live'
  redis.call('ZADD', live, deadline, booking_id)
  if redis.call('PTTL', live) < hold_ms then redis.call('PEXPIREAT', live, deadline) end
  redis.call('INCRBY', k.user_prefix .. user_id, #seats)
  redis.call('HINCRBY', k.event, 'held', #seats)
  redis.call('HINCRBY', k.event, 'waitlistSeats', -quantity)
  redis.call('ZREM', k.waitlist, user_id)
  redis.call('HSET', entry_key, 'status', 'offered', 'bookingId', booking_id, 'offerExpiresAt', deadline)
  log_event(k.log, 'booking.initiated', event_id, now, {'bookingId', booking_id, 'userId', user_id, 'seats', list,
    'amountCents', total, 'waitlist', position})
  log_event(k.log, 'seat.reserved', event_id, now, {'bookingId', booking_id, 'userId', user_id, 'seats', list, 'expiresAt', deadline})
  log_event(k.log, 'waitlist.offered', event_id, now, {'bookingId', booking_id, 'userId', user_id, 'seats', list,
    'position', position, 'quantity', quantity, 'offerExpiresAt', deadline, 'amountCents', total})
end

-- Offers `seats` (in no free set, or taken out of it by the caller) to the
-- first waiting entries they fit, in position order. Returns the seats
-- nobody was offered.
local function offer_to_waitlist(k, seats, hold_ms, max_seats, now)
  local left = seats
  for _, user_id in ipairs(redis.call('ZRANGE', k.waitlist, 0, waitlist_scan - 1)) do
    if #left == 0 then break end
    local entry_key = k.waitlist .. ':' .. user_id
    local w = redis.call('HMGET', entry_key, 'quantity', 'section', 'position')
    local quantity = tonumber(w[1])
    local picked, rest
    if quantity then picked, rest = pick_seats(left, quantity, w[2] or '') end -- (an entry without its hash is skipped)
    if picked and tonumber(redis.call('GET', k.user_prefix .. user_id) or '0') + quantity <= max_seats then
      make_offer(k, user_id, entry_key, w[3], quantity, picked, hold_ms, now)
      left = rest
    end
  end
  return left
end

-- How many free seats of each section one call offers with returned seats (below).
local remnants_scan = 50

-- Offers `returned` seats (just come back, in no free set) and the
-- front-most free seats of the sections `section_ids` to the waitlist, in
-- position order, as one set of seats. Free seats while buyers wait on the
-- waitlist are seats nobody else takes: remnants the queue's admitted buyers
-- kept coming away without (includes/queue.lua), or seats an earlier scan of
-- the first 50 entries could not place; with each join and each return they
-- meet the entries again. The free seats offered leave their free set.
-- Returns the returned seats nobody was offered (the caller frees them).
local function offer_with_free(k, returned, section_ids, now)
  if redis.call('ZCARD', k.waitlist) == 0 then return returned end
  local e = redis.call('HMGET', k.event, 'holdSeconds', 'maxSeatsPerUser', 'status')
  if e[3] ~= 'open' then return returned end
  local seats, was_free = {}, {}
  for _, seat in ipairs(returned) do seats[#seats + 1] = seat end
  for _, section in ipairs(section_ids) do
    for _, seat in ipairs(redis.call('ZRANGE', k.free_prefix .. section, 0, remnants_scan - 1)) do
      if redis.call('EXISTS', k.hold_prefix .. seat) == 0 then -- (a live hold key is never overwritten, as in hold.lua)
        seats[#seats + 1] = seat
        was_free[seat] = true
      end
    end
  end
  local not_offered, left_over = {}, {}
  for _, seat in ipairs(offer_to_waitlist(k, seats, tonumber(e[1]) * 1000, tonumber(e[2]), now)) do
    not_offered[seat] = true
    if not was_free[seat] then left_over[#left_over + 1] = seat end
  end
  local taken = {}
  for seat in pairs(was_free) do
    if not not_offered[seat] then taken[#taken + 1] = seat end
  end
  local order, groups = by_section(taken)
  for _, section in ipairs(order) do -- (the row index may now overstate a row: see row_index.lua)
    redis.call('ZREM', k.free_prefix .. section, unpack(groups[section]))
  end
  return left_over
end
