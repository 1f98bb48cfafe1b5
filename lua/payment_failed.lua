--[[ payment_failed.lua — record a failed charge attempt that will be retried.

KEYS[1] sl:{E}:booking:B   the booking
KEYS[2] sl:{E}:log         the event's log stream
ARGV[1] attempt number (1-based)
ARGV[2] reason
ARGV[3] next attempt (ms since epoch)

Returns {1, 'recorded'}; {0, status} when the booking is no longer
payment_pending (nothing written); {0, 'duplicate'} when this attempt was
already recorded (a redelivered entry), so each attempt is logged once.
]]
--@include common

local b = read_hash(KEYS[1])
if not b then return {0, 'missing'} end
if b.status ~= 'payment_pending' then return {0, b.status} end
if tonumber(b.paymentAttempts or '0') >= tonumber(ARGV[1]) then return {0, 'duplicate'} end
local now = now_ms()
redis.call('HSET', KEYS[1], 'paymentAttempts', ARGV[1], 'lastPaymentError', ARGV[2])
log_event(KEYS[2], 'payment.failed', event_id_of(KEYS[1]), now, {'bookingId', b.id, 'userId', b.userId,
  'amountCents', b.totalCents, 'attempt', ARGV[1], 'reason', ARGV[2], 'retryable', 1, 'retryAt', ARGV[3]})
return {1, 'recorded'}
