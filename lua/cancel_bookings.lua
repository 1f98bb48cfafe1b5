--[[ cancel_bookings.lua — one batch of a cancelled event's bookings ends
(the payments group calls it after `event.cancelled` until nothing is left).

A held or payment_pending booking is released (its payment, if one is on
its way, then finds the hold gone and is refunded: invariant 5); a
confirmed one goes refund_pending and asks the payments group for its
refund (ending.lua refund_confirmed); waiting waitlist entries end
`cancelled`. Bookings are taken from the status lists
(includes/booking_index.lua), which each step shrinks, so a batch needs no
cursor and a repeated or concurrent call does no harm. A cancelled event
takes no new hold, payment or waitlist entry, so the lists only shrink.

KEYS[1]  sl:{E}:event       event hash (status, live counters)
KEYS[2]  sl:{E}:sold        seat id -> booking id
KEYS[3]  sl:{E}:expiries    booking id by deadline, for the sweeper
KEYS[4]  sl:{E}:log         the event's log stream
KEYS[5]  sl:{E}:user:       prefix of buyers' seat counts (user:U) and live holds (user:U:live)
KEYS[6]  sl:{E}:hold:       prefix of the seat hold keys (hold:SEAT)
KEYS[7]  sl:{E}:free:       prefix of the free-seat sets (free:SECTION) and their row index
KEYS[8]  sl:{E}:seats       seat id -> price
KEYS[9]  sl:{E}:waitlist    waiting buyers by position; waitlist:U is an entry
KEYS[10] sl:{E}:booking:    prefix of bookings (booking:B)
KEYS[11] sl:{E}:expiry:     prefix of hold timers (expiry:B)
KEYS[12] sl:{E}:bookings    the booking lists (includes/booking_index.lua)
ARGV[1] batch size: bookings and entries ended by this call, at most
ARGV[2] actor (admin | operator)

Returns {ended, left}: how many this call ended, and how many bookings
and waitlist entries are still to end. While some are left it logs
`event.cancel_continued` (left), in the same call: the payments group
takes the next batch from that entry, so each entry is one short batch
(acked at once, never held for the whole cancellation) and a worker that
dies between batches leaves the work in the log. The first call that finds
nothing left logs event.cancel_completed once. An error reply when the
event is not cancelled.
]]
--@include common
--@include seats
--@include row_index
--@include booking_index
--@include waitlist
--@include ending

local k = {sold = KEYS[2], expiries = KEYS[3], event = KEYS[1], log = KEYS[4], user_prefix = KEYS[5], hold_prefix = KEYS[6],
           free_prefix = KEYS[7], seats = KEYS[8], waitlist = KEYS[9], booking_prefix = KEYS[10], expiry_prefix = KEYS[11],
           bookings = KEYS[12]}
local batch, actor = tonumber(ARGV[1]), ARGV[2]
local e = redis.call('HMGET', k.event, 'status', 'cancelCompletedAt')
if e[1] ~= 'cancelled' then return redis.error_reply('the event is not cancelled') end
local event_id = event_id_of(k.event)
local now = now_ms()
local ended = 0

for _, status in ipairs({'held', 'payment_pending', 'confirmed'}) do
  local list = k.bookings .. ':status:' .. status
  if ended < batch then
    for _, entry in ipairs(redis.call('ZRANGE', list, 0, batch - ended - 1)) do
      local id = string.match(entry, '^%d+:(.+)$')
      k.booking, k.expiry = k.booking_prefix .. id, k.expiry_prefix .. id
      local b = read_hash(k.booking)
      if not b or b.status ~= status then
        redis.call('ZREM', list, entry) -- (an entry without its booking, or left behind by a status change: nothing to end here)
      elseif status == 'confirmed' then
        refund_confirmed(k, b, now, 'event_cancelled', actor)
      else
        log_event(k.log, 'booking.released', event_id, now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats,
          'reason', 'event_cancelled', 'actor', actor})
        end_hold(k, b, now, 'released', {'releasedAt', now, 'releasedBy', actor, 'releaseReason', 'event_cancelled'}, 'event_cancelled', actor)
      end
      ended = ended + 1
    end
  end
end

if ended < batch then
  for _, user_id in ipairs(redis.call('ZRANGE', k.waitlist, 0, batch - ended - 1)) do
    local entry = k.waitlist .. ':' .. user_id
    redis.call('ZREM', k.waitlist, user_id)
    redis.call('HINCRBY', k.event, 'waitlistSeats', -tonumber(redis.call('HGET', entry, 'quantity') or '0'))
    redis.call('HSET', entry, 'status', 'cancelled', 'cancelledAt', now)
    log_event(k.log, 'waitlist.cancelled', event_id, now, {'userId', user_id, 'reason', 'event_cancelled', 'actor', actor})
    ended = ended + 1
  end
end

local left = redis.call('ZCARD', k.bookings .. ':status:held') + redis.call('ZCARD', k.bookings .. ':status:payment_pending')
  + redis.call('ZCARD', k.bookings .. ':status:confirmed') + redis.call('ZCARD', k.waitlist)
if left > 0 then
  log_event(k.log, 'event.cancel_continued', event_id, now, {'actor', actor, 'left', left})
elseif not e[2] then
  redis.call('HSET', k.event, 'cancelCompletedAt', now)
  log_event(k.log, 'event.cancel_completed', event_id, now, {'actor', actor})
end
return {ended, left}
