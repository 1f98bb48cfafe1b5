--[[ cancel.lua — the payment failed for good: payment_pending -> cancelled.
Compensation: the seats go back on sale and the buyer's count is given back.

KEYS[1] sl:{E}:booking:B   the booking
KEYS[2] sl:{E}:sold        seat id -> booking id
KEYS[3] sl:{E}:expiry:B    the booking's hold timer
KEYS[4] sl:{E}:expiries    booking id by deadline, for the sweeper
KEYS[5] sl:{E}:event       event hash (live counters)
KEYS[6] sl:{E}:log         the event's log stream
KEYS[7] sl:{E}:user:       prefix of the buyer's seat count (user:U) and live holds (user:U:live)
KEYS[8] sl:{E}:hold:       prefix of the seat hold keys (hold:SEAT)
KEYS[9] sl:{E}:free:       prefix of the free-seat sets (free:SECTION) and their row index (free:SECTION:runs)
KEYS[10] sl:{E}:seats       seat id -> price (for waitlist offers)
KEYS[11] sl:{E}:waitlist    waiting buyers by position; waitlist:U is an entry (includes/waitlist.lua)
KEYS[12] sl:{E}:booking:    prefix of bookings (a waitlist offer is a new booking:ID)
KEYS[13] sl:{E}:expiry:     prefix of hold timers (the offer's expiry:ID)
KEYS[14] sl:{E}:bookings    the booking lists (includes/booking_index.lua)
ARGV[1] attempt number
ARGV[2] reason

Returns {1, 'cancelled'}; {0, status} when the booking is not payment_pending
(already ended: nothing to compensate, nothing written).
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
if not b then return {0, 'missing'} end
if b.status ~= 'payment_pending' then return {0, b.status} end
local now = now_ms()
local event_id = event_id_of(k.booking)
-- Log order: the failed charge, the cancellation, then the seats coming back.
log_event(k.log, 'payment.failed', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'amountCents', b.totalCents,
  'attempt', ARGV[1], 'reason', ARGV[2], 'retryable', 0})
log_event(k.log, 'booking.cancelled', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats,
  'reason', 'payment_failed', 'actor', 'payments'})
end_hold(k, b, now, 'cancelled', {'cancelledAt', now, 'paymentAttempts', ARGV[1], 'lastPaymentError', ARGV[2]}, 'payment_failed', 'payments')
return {1, 'cancelled'}
