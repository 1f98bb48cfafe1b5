--[[ expire.lua — end a hold whose deadline has passed: -> expired, seats back on sale.

Run by the expiry listener and the sweeper, possibly both and several times:
it only acts on a held / payment_pending booking past its deadline, and only
frees seat holds that still name this booking (a seat whose hold key lapsed
and was taken by another buyer stays theirs).

KEYS[1] sl:{E}:booking:B   KEYS[2] sl:{E}:sold       KEYS[3] sl:{E}:expiry:B
KEYS[4] sl:{E}:expiries    KEYS[5] sl:{E}:event      KEYS[6] sl:{E}:log
KEYS[7] sl:{E}:user: (prefix)   KEYS[8] sl:{E}:hold: (prefix)   KEYS[9] sl:{E}:free: (prefix)
ARGV[1] booking id   ARGV[2] actor: listener | sweeper | operator

Returns {1, 'expired'} when it expired the booking; {0, reason} otherwise:
'missing' (no such booking; its stale expiries entry is removed), 'not_due'
(deadline still ahead), or the booking's final status.
]]
--@include common
--@include seats
--@include ending

local b = read_hash(KEYS[1])
if not b then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return {0, 'missing'}
end
if b.status ~= 'held' and b.status ~= 'payment_pending' then
  redis.call('ZREM', KEYS[4], b.id)
  return {0, b.status}
end
local now = now_ms()
if now < tonumber(b.expiresAt) then return {0, 'not_due'} end

log_event(KEYS[6], 'booking.expired', event_id_of(KEYS[1]), now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats,
  'deadline', b.expiresAt, 'actor', ARGV[2]})
end_hold(b, now, 'expired', {'expiredAt', now, 'expiredBy', ARGV[2]}, 'expired', ARGV[2])
return {1, 'expired'}
