--[[ get_booking.lua — one booking as its owner sees it (read only).

KEYS[1] sl:{E}:booking:B   the booking
ARGV[1] caller's user id; '' means any owner (admin)
Returns {status, body}: 200 booking JSON; 404 booking_not_found (also for
another buyer's booking: its existence is not revealed).
]]
--@include common
--@include seats

local b = read_hash(KEYS[1])
if not b or (ARGV[1] ~= '' and b.userId ~= ARGV[1]) then
  return {404, error_body('booking_not_found', 'no such booking')}
end
return {200, booking_json(event_id_of(KEYS[1]), b.id, b)}
