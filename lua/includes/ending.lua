-- ending.lua: ends a held / payment_pending booking (release, expire,
-- cancel). Included with `--@include ending` after common, seats and row_index.
-- Keys come from the caller: `k`, a table of the script's KEYS by name
-- (booking sold expiry expiries event log user_prefix hold_prefix free_prefix).

-- Gives back the seats of `booking_id`: deletes the holds it still owns and
-- returns to their section's free set the seats nobody else holds or bought.
-- A hold key owned by another booking is never touched.
-- Returns the seats that became free.
local function release_seats(hold_prefix, free_prefix, sold_key, booking_id, seats)
  local released = {}
  for _, seat in ipairs(seats) do
    local owner = redis.call('GET', hold_prefix .. seat)
    if owner == booking_id then redis.call('DEL', hold_prefix .. seat) end
    if (owner == booking_id or not owner) and redis.call('HGET', sold_key, seat) == false then
      local section, row, number = seat_parts(seat)
      -- (already free when a lapsed hold's seat was taken and given back by another booking)
      if redis.call('ZADD', free_prefix .. section, seat_score(row, number), seat) == 1 then seat_freed(free_prefix, seat) end
      released[#released + 1] = seat
    end
  end
  return released
end

-- Gives the hold back: seat holds this booking still owns, its timer and
-- expiries entry, the buyer's count, the event's held counter; sets the
-- final status with `fields`, and appends `seat.released` with `reason` and
-- `actor`. Returns the seats that became free.
local function end_hold(k, b, now, status, fields, reason, actor)
  local seats = split_commas(b.seats)
  local released = release_seats(k.hold_prefix, k.free_prefix, k.sold, b.id, seats)
  redis.call('DEL', k.expiry)
  redis.call('ZREM', k.expiries, b.id)
  redis.call('DECRBY', k.user_prefix .. b.userId, #seats)
  redis.call('ZREM', k.user_prefix .. b.userId .. ':live', b.id)
  redis.call('HINCRBY', k.event, 'held', -#seats)
  redis.call('HSET', k.booking, 'status', status, unpack(fields))
  b.status = status
  log_event(k.log, 'seat.released', event_id_of(k.booking), now, {'bookingId', b.id, 'seats', table.concat(released, ','),
    'reason', reason, 'actor', actor})
  return released
end
