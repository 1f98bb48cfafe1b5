--[[ waitlist_join.lua — a buyer joins the event's waitlist once it is sold out (idempotent).

Sold out means nothing available, or, for a queued event, the queue saying
sold out: the seats left are remnants its admitted buyers kept coming away
without (includes/queue.lua). Those are then offered to the waitlist, in
position order, as seats that come back are (includes/waitlist.lua), so a
newcomer who fits them may be offered some at once.

KEYS[1] sl:{E}:event         event hash (counters, sections, waitlistJoined, waitlistSeats)
KEYS[2] sl:{E}:waitlist      waiting buyers by position
KEYS[3] sl:{E}:waitlist:U    the buyer's entry (includes/waitlist.lua)
KEYS[4] sl:{E}:log           the event's log stream
KEYS[5] sl:{E}:user:         prefix of a buyer's seat count (user:U) and live holds (user:U:live)
KEYS[6] sl:{E}:queue         the on-sale queue (absent: the event sells directly)
KEYS[7] sl:{E}:seats         seat id -> price (for offers)
KEYS[8] sl:{E}:hold:         prefix of the seat hold keys
KEYS[9] sl:{E}:free:         prefix of the free-seat sets
KEYS[10] sl:{E}:booking:     prefix of bookings (an offer is a new booking:ID)
KEYS[11] sl:{E}:expiry:      prefix of hold timers (the offer's expiry:ID)
KEYS[12] sl:{E}:expiries     booking id by deadline, for the sweeper
KEYS[13] sl:{E}:bookings     the booking lists (includes/booking_index.lua)
ARGV[1] user id
ARGV[2] quantity (1..50, validated)
ARGV[3] section id, or '' for any section

Returns {status, body}: 201 entry JSON (new, or again after the last entry
was left or its offer let go; `offered` when remnants fitted it), 200 (already on it: the same entry);
404 event_not_found / section_not_found; 409 sales_closed / event_cancelled; 409
waitlist_not_open (seats are on sale: buy them); 422 limit_exceeded
(quantity plus the seats the buyer has above maxSeatsPerUser).
]]
--@include common
--@include seats
--@include booking_index
--@include waitlist
--@include waitlist_entry

local k = {event = KEYS[1], waitlist = KEYS[2], log = KEYS[4], user_prefix = KEYS[5], seats = KEYS[7], hold_prefix = KEYS[8],
           free_prefix = KEYS[9], booking_prefix = KEYS[10], expiry_prefix = KEYS[11], expiries = KEYS[12], bookings = KEYS[13]}

local user_id, quantity, section = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local e = redis.call('HMGET', KEYS[1], 'status', 'capacity', 'held', 'sold', 'maxSeatsPerUser', 'sections')
if not e[1] then return {404, error_body('event_not_found', 'no such event')} end
if e[1] == 'cancelled' then return {409, error_body('event_cancelled', 'this event was cancelled')} end
local existing = read_hash(KEYS[3])
-- One entry per buyer: joining again returns it, unless it ended (left, or an offer let go): then a new place at the end.
if existing and existing.status ~= 'left' and existing.status ~= 'expired' then return {200, entry_json(existing)} end
if e[1] ~= 'open' then return {409, error_body('sales_closed', 'sales are closed for this event')} end
local available = tonumber(e[2]) - tonumber(e[3] or 0) - tonumber(e[4] or 0)
local remnants = available > 0 and redis.call('HGET', KEYS[6], 'status') == 'sold_out'
if available > 0 and not remnants then
  return {409, error_body('waitlist_not_open', 'seats are on sale now: the waitlist opens when the event is sold out', ',"available":' .. available)}
end
local have = tonumber(redis.call('GET', k.user_prefix .. user_id) or '0')
if have + quantity > tonumber(e[5]) then
  -- (an entry no offer could ever fill would only hold its place at the front)
  return {422, error_body('limit_exceeded', 'at most ' .. e[5] .. ' seats per buyer for this event (you have ' .. have .. ')')}
end
if section ~= '' and not string.find(',' .. e[6], ',' .. section .. ':', 1, true) then
  return {404, error_body('section_not_found', 'this event has no section ' .. section)}
end
local now = now_ms()
local position = redis.call('HINCRBY', KEYS[1], 'waitlistJoined', 1)
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'id', 'wl' .. position, 'userId', user_id, 'status', 'waiting', 'position', position,
  'quantity', quantity, 'section', section, 'joinedAt', now)
redis.call('ZADD', KEYS[2], position, user_id)
redis.call('HINCRBY', KEYS[1], 'waitlistSeats', quantity)
log_event(KEYS[4], 'waitlist.joined', event_id_of(KEYS[1]), now, {'userId', user_id, 'position', position,
  'quantity', quantity, 'section', section})
if remnants then
  local ids = {}
  for _, spec in ipairs(event_sections(e[6])) do ids[#ids + 1] = spec.id end
  offer_with_free(k, {}, ids, now)
end
return {201, entry_json(read_hash(KEYS[3]))}
