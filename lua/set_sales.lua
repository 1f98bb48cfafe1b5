--[[ set_sales.lua — open or close sales for an event (operators).

KEYS[1] sl:{E}:event   event hash
KEYS[2] sl:{E}:log     the event's log stream
ARGV[1] 'open' | 'closed'
ARGV[2] actor (e.g. operator)

Returns {1, status} when it changed, {0, status} when it already was;
an error reply for an unknown event or status. While closed, holds get
409 sales_closed; payments and expiries of existing bookings go on.
]]
--@include common

if ARGV[1] ~= 'open' and ARGV[1] ~= 'closed' then return redis.error_reply('status must be open or closed') end
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return redis.error_reply('no such event') end
if current == ARGV[1] then return {0, current} end
local now = now_ms()
redis.call('HSET', KEYS[1], 'status', ARGV[1])
log_event(KEYS[2], ARGV[1] == 'open' and 'event.sales_opened' or 'event.sales_closed', event_id_of(KEYS[1]), now, {'actor', ARGV[2]})
return {1, ARGV[1]}
