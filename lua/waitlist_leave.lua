--[[ waitlist_leave.lua — the buyer leaves the waitlist; an open offer is released
(its seats go on to the next entry, in this call).

KEYS[1]  sl:{E}:waitlist:U   the buyer's entry
KEYS[2]  sl:{E}:sold         seat id -> booking id
KEYS[3]  sl:{E}:expiries     booking id by deadline, for the sweeper
KEYS[4]  sl:{E}:event        event hash (live counters, waitlistSeats)
KEYS[5]  sl:{E}:log          the event's log stream
KEYS[6]  sl:{E}:user:        prefix of buyers' seat counts (user:U) and live holds (user:U:live)
KEYS[7]  sl:{E}:hold:        prefix of the seat hold keys (hold:SEAT)
KEYS[8]  sl:{E}:free:        prefix of the free-seat sets (free:SECTION) and their row index
KEYS[9]  sl:{E}:seats        seat id -> price (for the next offer)
KEYS[10] sl:{E}:waitlist     waiting buyers by position
KEYS[11] sl:{E}:booking:     prefix of bookings (the offer's booking:ID, and the next offer's)
KEYS[12] sl:{E}:expiry:      prefix of hold timers
KEYS[13] sl:{E}:bookings     the booking lists (includes/booking_index.lua)
ARGV[1]  user id

Returns {status, body}: 200 entry JSON (left; leaving twice changes
nothing); 404 not_on_waitlist; 409 invalid_state (the offer was paid).
]]
--@include common
--@include seats
--@include row_index
--@include booking_index
--@include waitlist
--@include ending
--@include waitlist_entry

local w = read_hash(KEYS[1])
if not w then return {404, error_body('not_on_waitlist', 'you are not on this event\'s waitlist')} end
local k = {sold = KEYS[2], expiries = KEYS[3], event = KEYS[4], log = KEYS[5], user_prefix = KEYS[6], hold_prefix = KEYS[7],
           free_prefix = KEYS[8], seats = KEYS[9], waitlist = KEYS[10], booking_prefix = KEYS[11], expiry_prefix = KEYS[12],
           bookings = KEYS[13]}
local now = now_ms()
if w.status == 'waiting' then
  redis.call('ZREM', k.waitlist, ARGV[1])
  redis.call('HINCRBY', k.event, 'waitlistSeats', -tonumber(w.quantity))
elseif w.status == 'offered' then
  k.booking, k.expiry = k.booking_prefix .. w.bookingId, k.expiry_prefix .. w.bookingId
  local b = read_hash(k.booking)
  if b and (b.status == 'held' or b.status == 'payment_pending') then
    log_event(k.log, 'booking.released', event_id_of(k.event), now, {'bookingId', b.id, 'userId', b.userId, 'seats', b.seats, 'actor', 'buyer'})
    end_hold(k, b, now, 'released', {'releasedAt', now, 'releasedBy', 'buyer'}, 'released', 'buyer')
  elseif b and b.status ~= 'released' and b.status ~= 'expired' and b.status ~= 'cancelled' then
    return {409, error_body('invalid_state', 'the offer was paid for: cancel the booking instead')}
  end
else
  return {200, entry_json(w)}
end
redis.call('HSET', KEYS[1], 'status', 'left', 'leftAt', now)
w.status = 'left'
log_event(k.log, 'waitlist.left', event_id_of(k.event), now, {'userId', ARGV[1], 'position', w.position})
return {200, entry_json(w)}
