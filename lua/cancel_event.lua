--[[ cancel_event.lua — an organizer cancels an event (POST /v1/events/{e}/cancel).

Sales close for good and `event.cancelled` is logged; the payments group
reads it and ends every booking in batches (cancel_bookings.lua: holds
released, confirmed bookings refunded), so this call stays O(1) however
many bookings the event has. Safe to call twice: a cancelled event is
answered as it is, and nothing is written or logged again.

KEYS[1] sl:{E}:event   event hash
KEYS[2] sl:{E}:log     the event's log stream
ARGV[1] actor: admin | operator

Returns {status, body}: 202 event JSON (status cancelled, cancelledAt);
404 event_not_found.
]]
--@include common
--@include seats

local e = read_hash(KEYS[1])
if not e then return {404, error_body('event_not_found', 'no such event')} end
if e.status ~= 'cancelled' then
  local now = now_ms()
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelledAt', now, 'cancelledBy', ARGV[1])
  log_event(KEYS[2], 'event.cancelled', e.id, now, {'actor', ARGV[1], 'held', e.held or 0, 'sold', e.sold or 0})
  e = read_hash(KEYS[1])
end
return {202, event_json(e)}
