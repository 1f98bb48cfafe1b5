--[[ expire.lua — end a hold whose deadline has passed: -> expired, seats back on sale.

Run by the expiry listener and the sweeper, possibly both and several times:
it only acts on a held / payment_pending booking past its deadline, and only
frees seat holds that still name this booking (a seat whose hold key lapsed
and was taken by another buyer stays theirs).

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
ARGV[1] booking id
ARGV[2] actor: listener | sweeper | operator | payments

Returns {1, 'expired'} when it expired the booking; {0, reason} otherwise:
'missing' (no such booking; its stale expiries entry is removed), 'not_due'
(deadline still ahead), or the booking's final status.
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
if not b then
  redis.call('ZREM', k.expiries, ARGV[1])
  return {0, 'missing'}
end
if b.status ~= 'held' and b.status ~= 'payment_pending' then
  redis.call('ZREM', k.expiries, b.id)
  return {0, b.status}
end
local now = now_ms()
if now < tonumber(b.expiresAt) then return {0, 'not_due'} end

log_event(k.log, 'booking.expired', event_id_of(k.booking), now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats,
  'deadline', b.expiresAt, 'actor', ARGV[2]})
end_hold(k, b, now, 'expired', {'expiredAt', now, 'expiredBy', ARGV[2]}, 'expired', ARGV[2])
return {1, 'expired'}
