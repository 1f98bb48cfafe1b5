--[[ get_event.lua — an event with its live counts (read only).

KEYS[1] sl:{E}:event   event hash
Returns {status, body}: 200 event JSON; 404 event_not_found.
]]
--@include common
--@include seats

local e = read_hash(KEYS[1])
if not e then return {404, error_body('event_not_found', 'no such event')} end
return {200, event_json(e)}
