-- ending.lua: ends a held / payment_pending booking (release, expire,
-- cancel), or gives a confirmed one's seats back for its refund. Included
-- with `--@include ending` after common, seats, row_index, booking_index and
-- waitlist. Keys come from the caller: `k`, a table of the script's KEYS by
-- name (booking sold expiry expiries event log user_prefix hold_prefix
-- free_prefix bookings, and waitlist.lua's seats waitlist booking_prefix
-- expiry_prefix).

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
-- 9), with the free seats of their sections while anyone waits there
-- (includes/waitlist.lua, offer_with_free), then the rest to their
-- section's free set and row index.
local function seats_back(k, seats, now)
  if #seats == 0 then return end
  for _, seat in ipairs(offer_with_free(k, seats, (by_section(seats)), now)) do
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
  index_status(k.bookings, b, b.status, status)
  b.status = status
  if b.waitlistEntry then -- an offer not taken: the entry ends, the seats go on to the next
    redis.call('HSET', k.waitlist .. ':' .. b.waitlistEntry, 'status',
      reason == 'released' and 'left' or reason == 'event_cancelled' and 'cancelled' or 'expired')
    log_event(k.log, 'waitlist.expired', event_id_of(k.booking), now, {'bookingId', b.id, 'userId', b.userId, 'reason', reason})
  end
  log_event(k.log, 'seat.released', event_id_of(k.booking), now, {'bookingId', b.id, 'seats', table.concat(released, ','),
    'reason', reason, 'actor', actor})
  seats_back(k, back, now)
  return released
end

-- A confirmed booking is given up for a refund (`reason`: refund_requested,
-- event_cancelled): confirmed -> refund_pending, its sold seats back on sale
-- now, and payment.refund_requested for the payments group, which refunds
-- the charge (refund.lua ends it refunded).
local function refund_confirmed(k, b, now, reason, actor)
  local event_id = event_id_of(k.booking)
  local seats = split_commas(b.seats)
  local released = {}
  for _, seat in ipairs(seats) do
    if redis.call('HGET', k.sold, seat) == b.id then
      redis.call('HDEL', k.sold, seat)
      released[#released + 1] = seat
    end
  end
  redis.call('DECRBY', k.user_prefix .. b.userId, #seats)
  redis.call('HINCRBY', k.event, 'sold', -#released)
  redis.call('HINCRBY', k.event, 'revenueCents', -tonumber(b.totalCents))
  redis.call('HSET', k.booking, 'status', 'refund_pending', 'cancelledAt', now, 'releasedBy', actor)
  index_status(k.bookings, b, 'confirmed', 'refund_pending')
  b.status = 'refund_pending'
  log_event(k.log, 'booking.cancelled', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats,
    'reason', reason, 'actor', actor})
  log_event(k.log, 'seat.released', event_id, now, {'bookingId', b.id, 'seats', table.concat(released, ','), 'reason', 'refund', 'actor', actor})
  seats_back(k, released, now) -- (after the log entry that gives them back: an offer follows it)
  log_event(k.log, 'payment.refund_requested', event_id, now, {'bookingId', b.id, 'userId', b.userId,
    'amountCents', b.totalCents, 'paymentId', b.paymentId or '', 'reason', reason})
end
