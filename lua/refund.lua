--[[ refund.lua — the provider refunded a charge: the booking ends `refunded`.

Two ways here: a refund the buyer asked for (DELETE of a confirmed booking:
refund_pending, seats already back on sale), or a payment that succeeded
after its hold had ended (expired / released): the money goes back, the
seats were never sold (invariant 5). A payment_pending booking past its
deadline is expired first (expire.lua gives its seats back), then refunded.

KEYS[1] sl:{E}:booking:B   the booking
KEYS[2] sl:{E}:log         the event's log stream
KEYS[3] sl:{E}:bookings    the booking lists (includes/booking_index.lua)
ARGV[1] payment id
ARGV[2] refund id
ARGV[3] reason

Returns {1, 'refunded'}; {0, 'refunded'} when it already was (nothing
written); {0, status} for a booking that may not be refunded (confirmed:
it holds sold seats; held / payment_pending: seats still held; cancelled:
never charged).
]]
--@include common
--@include booking_index

local b = read_hash(KEYS[1])
if not b then return {0, 'missing'} end
if b.status == 'refunded' then return {0, 'refunded'} end
local refundable = {refund_pending = true, expired = true, released = true}
if not refundable[b.status] then return {0, b.status} end
local now = now_ms()
index_status(KEYS[3], b, b.status, 'refunded')
redis.call('HSET', KEYS[1], 'status', 'refunded', 'refundedAt', now, 'paymentId', ARGV[1], 'refundId', ARGV[2], 'refundReason', ARGV[3])
log_event(KEYS[2], 'payment.refunded', event_id_of(KEYS[1]), now, {'bookingId', b.id, 'userId', b.userId,
  'amountCents', b.totalCents, 'paymentId', ARGV[1], 'refundId', ARGV[2], 'reason', ARGV[3]})
return {1, 'refunded'}
