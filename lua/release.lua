--[[ release.lua — the owner (or an admin/operator) gives a booking up.

held / payment_pending -> released: holds deleted, seats back on sale.
confirmed -> refund_pending: seats back on sale now; the payments group
refunds the charge and marks the booking refunded.

KEYS[1] sl:{E}:booking:B   the booking
KEYS[2] sl:{E}:sold        seat id -> booking id
KEYS[3] sl:{E}:expiry:B    the booking's hold timer
KEYS[4] sl:{E}:expiries    booking id by deadline, for the sweeper
KEYS[5] sl:{E}:event       event hash (live counters)
KEYS[6] sl:{E}:log         the event's log stream
KEYS[7] sl:{E}:user:       prefix of the buyer's seat count (user:U; the owner is read from the booking) and live holds (user:U:live)
KEYS[8] sl:{E}:hold:       prefix of the seat hold keys (hold:SEAT)
KEYS[9] sl:{E}:free:       prefix of the free-seat sets (free:SECTION) and their row index (free:SECTION:runs)
KEYS[10] sl:{E}:seats       seat id -> price (for waitlist offers)
KEYS[11] sl:{E}:waitlist    waiting buyers by position; waitlist:U is an entry (includes/waitlist.lua)
KEYS[12] sl:{E}:booking:    prefix of bookings (a waitlist offer is a new booking:ID)
KEYS[13] sl:{E}:expiry:     prefix of hold timers (the offer's expiry:ID)
KEYS[14] sl:{E}:bookings    the booking lists (includes/booking_index.lua)
ARGV[1] caller's user id ('' = any owner)
ARGV[2] actor: buyer | admin | operator

Returns {status, body}: 200 booking JSON (released); 202 booking JSON
(refund_pending); 404 booking_not_found; 409 invalid_state (released,
expired, cancelled, refunded or already refund_pending). Idempotent: a
second call changes nothing.
]]
--@include common
--@include seats
--@include row_index
--@include booking_index
--@include waitlist
--@include ending

-- The call's keys by name, for includes/ending.lua.
local k = {booking = KEYS[1], sold = KEYS[2], expiry = KEYS[3], expiries = KEYS[4], event = KEYS[5], log = KEYS[6],
           user_prefix = KEYS[7], hold_prefix = KEYS[8], free_prefix = KEYS[9],
           seats = KEYS[10], waitlist = KEYS[11], booking_prefix = KEYS[12], expiry_prefix = KEYS[13], bookings = KEYS[14]}

local b = read_hash(k.booking)
if not b or (ARGV[1] ~= '' and b.userId ~= ARGV[1]) then
  return {404, error_body('booking_not_found', 'no such booking')}
end
local event_id = event_id_of(k.booking)
local now = now_ms()

if b.status == 'held' or b.status == 'payment_pending' then
  log_event(k.log, 'booking.released', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats, 'actor', ARGV[2]})
  end_hold(k, b, now, 'released', {'releasedAt', now, 'releasedBy', ARGV[2]}, 'released', ARGV[2])
  return {200, booking_json(event_id, b.id, b)}
end

if b.status == 'confirmed' then
  refund_confirmed(k, b, now, 'refund_requested', ARGV[2])
  return {202, booking_json(event_id, b.id, b)}
end

return {409, error_body('invalid_state', 'the booking is ' .. b.status .. ' and cannot be released')}
