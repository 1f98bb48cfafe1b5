--[[ cancel.lua — the payment failed for good: payment_pending -> cancelled.
Compensation: the seats go back on sale and the buyer's count is given back.

KEYS[1] sl:{E}:booking:B   KEYS[2] sl:{E}:sold       KEYS[3] sl:{E}:expiry:B
KEYS[4] sl:{E}:expiries    KEYS[5] sl:{E}:event      KEYS[6] sl:{E}:log
KEYS[7] sl:{E}:user: (prefix)   KEYS[8] sl:{E}:hold: (prefix)   KEYS[9] sl:{E}:free: (prefix)
ARGV[1] attempt number   ARGV[2] reason

Returns {1, 'cancelled'}; {0, status} when the booking is not payment_pending
(already ended: nothing to compensate, nothing written).
]]
--@include common
--@include seats
--@include ending

local b = read_hash(KEYS[1])
if not b then return {0, 'missing'} end
if b.status ~= 'payment_pending' then return {0, b.status} end
local now = now_ms()
local event_id = event_id_of(KEYS[1])
-- Log order: the failed charge, the cancellation, then the seats coming back.
log_event(KEYS[6], 'payment.failed', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'amountCents', b.totalCents,
  'attempt', ARGV[1], 'reason', ARGV[2], 'retryable', 0})
log_event(KEYS[6], 'booking.cancelled', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats,
  'reason', 'payment_failed', 'actor', 'payments'})
end_hold(b, now, 'cancelled', {'cancelledAt', now, 'paymentAttempts', ARGV[1], 'lastPaymentError', ARGV[2]}, 'payment_failed', 'payments')
return {1, 'cancelled'}
