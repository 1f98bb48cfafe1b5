--[[ hold_best.lua — hold the best `quantity` seats of a section: adjacent in
one row when possible (the front-most row that has such a run, wherever it is), front rows first.

KEYS[1]  sl:{E}:event             event hash (status, holdSeconds, maxSeatsPerUser, held)
KEYS[2]  sl:{E}:seats             seat id -> price
KEYS[3]  sl:{E}:sold              seat id -> booking id
KEYS[4]  sl:{E}:booking:B         the new booking
KEYS[5]  sl:{E}:expiry:B          the booking's hold timer (PX TTL)
KEYS[6]  sl:{E}:expiries          booking id by deadline, for the sweeper
KEYS[7]  sl:{E}:user:U            seats held + bought by the buyer
KEYS[8]  sl:{E}:log               the event's log stream
KEYS[9]  sl:{E}:idem:CALLER:K     idempotency record, CALLER u_U or admin (sl:{E}:idem:-, unused, when ARGV[3] is '')
KEYS[10] sl:{E}:hold:             prefix of the seat hold keys (hold:SEAT; same {E} slot)
KEYS[11] sl:{E}:free:             prefix of the free-seat sets (free:SECTION) and their row index (free:SECTION:runs)
KEYS[12] sl:{E}:rl:user:U         the buyer's rate limit (GCRA)
KEYS[13] sl:{E}:rl:ip:ADDR        the client address's rate limit
KEYS[14] sl:{E}:rl:event          the event's admission rate
KEYS[15] sl:{E}:idemkeys:u_U      Idempotency-Keys the buyer used in 24 h
KEYS[16] sl:{E}:user:U:live       the buyer's live holds (booking id -> deadline)
KEYS[17] sl:{E}:queue             the on-sale queue (absent: the event sells directly)
KEYS[18] sl:{E}:queue:tried       bitmap: queue positions that tried to hold (automatic admission)
KEYS[19] sl:{E}:queue:told        bitmap: queue positions told "admitted" (a hold attempt sets it too)
KEYS[20] sl:{E}:bookings          the booking lists (includes/booking_index.lua)
ARGV[1] booking id (new)
ARGV[2] user id
ARGV[3] request fingerprint or ''
ARGV[4] admission policy (see includes/admission.lua)
ARGV[5] the admission's queue position (verified on the loop), '' without one
ARGV[6] section id
ARGV[7] quantity (>= 1)

Returns {status, body}: 201 booking JSON; 404 event_not_found / section_not_found;
409 sold_out (fewer free seats than asked); 409 sales_closed; 422 limit_exceeded;
422 idempotency_mismatch; 429 as hold.lua.

Cost: free:SECTION is a sorted set scored row*10000+number, so the search
never touches sold or held seats. The row index (free:SECTION:runs, see
includes/row_index.lua) finds the front-most row that may have the run in
O(log rows) reads; that row's first 4n free seats are read (O(log N + 4n)),
the whole row only when they do not settle the choice; a row read in vain
(seats taken since it was last read) is corrected and the search goes on,
so over many holds each taken seat costs at most one such extra read. A
single seat is the front-most free seat (O(log N)).
Measured (INFO commandstats usec_per_call, 2026-12-07, 2 cores, scripts/bench-best:
pairs in 10 sections of 10 rows x 500 seats until 40,000 seats are held):
82-92 us per call; 287-321 us when every hold read its whole row.
]]
--@include common
--@include seats
--@include row_index
--@include admission
--@include booking_index
--@include holding

-- The call's keys and arguments by name, for includes/holding.lua.
local h = {event = KEYS[1], seats = KEYS[2], sold = KEYS[3], booking = KEYS[4], expiry = KEYS[5], expiries = KEYS[6],
           user = KEYS[7], log = KEYS[8], idem = KEYS[9], hold_prefix = KEYS[10], free_prefix = KEYS[11],
           user_limit = KEYS[12], address_limit = KEYS[13], event_limit = KEYS[14], idem_count = KEYS[15], live = KEYS[16], queue = KEYS[17], tried = KEYS[18], told = KEYS[19], bookings = KEYS[20],
           booking_id = ARGV[1], user_id = ARGV[2], fingerprint = ARGV[3], policy = ARGV[4], position = ARGV[5]}

local event, refusal = begin_hold(h)
if not event then return refusal end

local section, quantity = ARGV[6], tonumber(ARGV[7])
if not string.find(',' .. event.sections, ',' .. section .. ':', 1, true) then
  return hold_fail(h, 404, 'section_not_found', 'no such section in this event')
end
local limit = over_limit(h, event, quantity)
if limit then return limit end

local free_key = h.free_prefix .. section
if redis.call('ZCARD', free_key) < quantity then
  return hold_fail(h, 409, 'sold_out', 'not enough free seats in section ' .. section)
end

-- Front row first: the first run of `quantity` consecutive free seats in
-- the front-most row that has one (includes/row_index.lua knows which rows may);
-- when no row has one, the front-most free seats.
local rows = tonumber(string.match(',' .. event.sections, ',' .. section .. ':(%d+):'))
local chosen = quantity > 1 and front_run(h.free_prefix, section, rows, event.max_seats, quantity)
if not chosen then chosen = redis.call('ZRANGE', free_key, 0, quantity - 1) end

return write_hold(h, event, chosen, redis.call('HMGET', h.seats, unpack(chosen)))
