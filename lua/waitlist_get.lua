--[[ waitlist_get.lua — the buyer's waitlist entry (read only).

KEYS[1] sl:{E}:waitlist:U    the buyer's entry
KEYS[2] sl:{E}:booking:      prefix of bookings (the offer's booking:ID, for 'purchased')
Returns {status, body}: 200 entry JSON; 404 not_on_waitlist.
]]
--@include common
--@include waitlist_entry

local w = read_hash(KEYS[1])
if not w then return {404, error_body('not_on_waitlist', 'you are not on this event\'s waitlist')} end
local booking_status = w.bookingId and redis.call('HGET', KEYS[2] .. w.bookingId, 'status') or nil
return {200, entry_json(w, booking_status)}
