-- ending.lua: ends a held / payment_pending booking (release, expire,
-- cancel). Included with `--@include ending` after common, seats, row_index
-- and waitlist. Keys come from the caller: `k`, a table of the script's KEYS
-- by name (booking sold expiry expiries event log user_prefix hold_prefix
-- free_prefix, and waitlist.lua's seats waitlist booking_prefix expiry_prefix).

-- Takes back the seats of `booking_id`: deletes the holds it still owns.
-- Returns the seats nobody else holds or bought (for the log), and those of
-- them not already free (a lapsed hold's seat may have been taken and given
-- back by another booking meanwhile): those come back now. A hold key owned
-- by another booking is never touched.
local function reclaim_seats(hold_prefix, free_prefix, sold_key, booking_id, seats)
  local released, back = {}, {}
  for _, seat in ipairs(seats) do
    local owner = redis.call('GET', hold_prefix .. seat)
    if owner == booking_id then redis.call('DEL', hold_prefix .. seat) end
    if (owner == booking_id or not owner) and redis.call('HGET', sold_key, seat) == false then
      released[#released + 1] = seat
      if not redis.call('ZSCORE', free_prefix .. seat_parts(seat), seat) then back[#back + 1] = seat end
    end
  end
  return released, back
end

-- Seats that came back: the waitlist first, in the same call (invariant
-- 9), then the rest to their section's free set and row index.
local function seats_back(k, seats, now)
  for _, seat in ipairs(offer_to_waitlist(k, seats, now)) do
    local section, row, number = seat_parts(seat)
    if redis.call('ZADD', k.free_prefix .. section, seat_score(row, number), seat) == 1 then seat_freed(k.free_prefix, seat) end
  end
end

-- Gives the hold back: seat holds this booking still owns, its timer and
-- expiries entry, the buyer's count, the event's held counter; sets the
-- final status with `fields`, and appends `seat.released` with `reason` and
-- `actor`. Returns the seats that became free.
local function end_hold(k, b, now, status, fields, reason, actor)
  local seats = split_commas(b.seats)
  local released, back = reclaim_seats(k.hold_prefix, k.free_prefix, k.sold, b.id, seats)
  redis.call('DEL', k.expiry)
  redis.call('ZREM', k.expiries, b.id)
  redis.call('DECRBY', k.user_prefix .. b.userId, #seats)
  redis.call('ZREM', k.user_prefix .. b.userId .. ':live', b.id)
  redis.call('HINCRBY', k.event, 'held', -#seats)
  redis.call('HSET', k.booking, 'status', status, unpack(fields))
  b.status = status
  if b.waitlistEntry then -- an offer not taken: the entry ends, the seats go on to the next
    redis.call('HSET', k.waitlist .. ':' .. b.waitlistEntry, 'status', reason == 'released' and 'left' or 'expired')
    log_event(k.log, 'waitlist.expired', event_id_of(k.booking), now, {'bookingId', b.id, 'userId', b.userId, 'reason', reason})
  end
  log_event(k.log, 'seat.released', event_id_of(k.booking), now, {'bookingId', b.id, 'seats', table.concat(released, ','),
    'reason', reason, 'actor', actor})
  seats_back(k, back, now)
  return released
end
