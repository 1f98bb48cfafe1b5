--[[ confirm.lua — a payment succeeded: payment_pending -> confirmed, seats sold.

Only while the deadline has not passed and every seat's hold still names
this booking: a late payment is refused here, so the caller refunds it and
never sells a seat someone else holds now (invariant 5).

KEYS[1] sl:{E}:booking:B   the booking
KEYS[2] sl:{E}:sold        seat id -> booking id
KEYS[3] sl:{E}:expiry:B    the booking's hold timer
KEYS[4] sl:{E}:expiries    booking id by deadline, for the sweeper
KEYS[5] sl:{E}:event       event hash (live counters)
KEYS[6] sl:{E}:log         the event's log stream
KEYS[7] sl:{E}:hold:       prefix of the seat hold keys (hold:SEAT)
KEYS[8] sl:{E}:user:       prefix of the owner's live holds (user:U:live)
KEYS[9] sl:{E}:bookings    the booking lists (includes/booking_index.lua)
ARGV[1] payment id (provider's reference)
ARGV[2] confirmation code

Returns {status, body}: 200 booking JSON (confirmed; also when it already was,
with nothing changed); 404 booking_not_found; 409 hold_expired (deadline
passed, hold lost, or the booking expired/was released); 409 invalid_state.
]]
--@include common
--@include seats
--@include booking_index

local b = read_hash(KEYS[1])
if not b then return {404, error_body('booking_not_found', 'no such booking')} end
local event_id = event_id_of(KEYS[1])
if b.status == 'confirmed' then return {200, booking_json(event_id, b.id, b)} end
if b.status == 'expired' or b.status == 'released' then
  return {409, error_body('hold_expired', 'the booking is ' .. b.status .. '; refund the payment')}
end
if b.status ~= 'payment_pending' then
  return {409, error_body('invalid_state', 'the booking is ' .. b.status .. ', not payment_pending')}
end
local now = now_ms()
local seats = split_commas(b.seats)
if now >= tonumber(b.expiresAt) or not holds_owned(KEYS[7], b.id, seats) then
  return {409, error_body('hold_expired', 'the hold expired before the payment completed; refund the payment')}
end

for _, seat in ipairs(seats) do
  redis.call('HSET', KEYS[2], seat, b.id)
  redis.call('DEL', KEYS[7] .. seat)
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], b.id)
redis.call('ZREM', KEYS[8] .. b.userId .. ':live', b.id)
index_status(KEYS[9], b, 'payment_pending', 'confirmed')
redis.call('HSET', KEYS[1], 'status', 'confirmed', 'paymentId', ARGV[1], 'confirmationCode', ARGV[2], 'confirmedAt', now)
redis.call('HINCRBY', KEYS[5], 'held', -#seats)
redis.call('HINCRBY', KEYS[5], 'sold', #seats)
redis.call('HINCRBY', KEYS[5], 'revenueCents', tonumber(b.totalCents))
b.status, b.confirmationCode = 'confirmed', ARGV[2]
log_event(KEYS[6], 'payment.completed', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'amountCents', b.totalCents, 'paymentId', ARGV[1]})
log_event(KEYS[6], 'booking.confirmed', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats,
  'amountCents', b.totalCents, 'confirmationCode', ARGV[2]})
return {200, booking_json(event_id, b.id, b)}
