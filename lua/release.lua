--[[ release.lua — the owner (or an admin/operator) gives a booking up.

held / payment_pending -> released: holds deleted, seats back on sale.
confirmed -> refund_pending: seats back on sale now; the payments group
refunds the charge and marks the booking refunded.

KEYS[1] sl:{E}:booking:B   KEYS[2] sl:{E}:sold       KEYS[3] sl:{E}:expiry:B
KEYS[4] sl:{E}:expiries    KEYS[5] sl:{E}:event      KEYS[6] sl:{E}:log
KEYS[7] sl:{E}:user: (prefix of the buyer's seat count; the owner is read from the booking)
KEYS[8] sl:{E}:hold: (prefix)                        KEYS[9] sl:{E}:free: (prefix)
ARGV[1] caller's user id ('' = any owner)   ARGV[2] actor: buyer | admin | operator

Returns {status, body}: 200 booking JSON (released); 202 booking JSON
(refund_pending); 404 booking_not_found; 409 invalid_state (released,
expired, cancelled, refunded or already refund_pending). Idempotent: a
second call changes nothing.
]]
--@include common
--@include seats
--@include ending

local b = read_hash(KEYS[1])
if not b or (ARGV[1] ~= '' and b.userId ~= ARGV[1]) then
  return {404, error_body('booking_not_found', 'no such booking')}
end
local event_id = event_id_of(KEYS[1])
local now = now_ms()
local seats = split_commas(b.seats)

if b.status == 'held' or b.status == 'payment_pending' then
  log_event(KEYS[6], 'booking.released', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats, 'actor', ARGV[2]})
  end_hold(b, now, 'released', {'releasedAt', now, 'releasedBy', ARGV[2]}, 'released', ARGV[2])
  return {200, booking_json(event_id, b.id, b)}
end

if b.status == 'confirmed' then
  local released = {}
  for _, seat in ipairs(seats) do
    if redis.call('HGET', KEYS[2], seat) == b.id then
      redis.call('HDEL', KEYS[2], seat)
      local section, row, number = seat_parts(seat)
      redis.call('ZADD', KEYS[9] .. section, seat_score(row, number), seat)
      released[#released + 1] = seat
    end
  end
  redis.call('DECRBY', KEYS[7] .. b.userId, #seats)
  redis.call('HINCRBY', KEYS[5], 'sold', -#released)
  redis.call('HINCRBY', KEYS[5], 'revenueCents', -tonumber(b.totalCents))
  redis.call('HSET', KEYS[1], 'status', 'refund_pending', 'cancelledAt', now, 'releasedBy', ARGV[2])
  b.status = 'refund_pending'
  log_event(KEYS[6], 'booking.cancelled', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats,
    'reason', 'refund_requested', 'actor', ARGV[2]})
  log_event(KEYS[6], 'seat.released', event_id, now, {'bookingId', b.id, 'seats', table.concat(released, ','), 'reason', 'refund', 'actor', ARGV[2]})
  log_event(KEYS[6], 'payment.refund_requested', event_id, now, {'bookingId', b.id, 'userId', b.userId,
    'amountCents', b.totalCents, 'paymentId', b.paymentId or ''})
  return {202, booking_json(event_id, b.id, b)}
end

return {409, error_body('invalid_state', 'the booking is ' .. b.status .. ' and cannot be released')}
