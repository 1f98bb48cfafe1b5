--[[ hold.lua — hold explicit seats for one buyer: all or nothing.

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
ARGV[1]   booking id (new)
ARGV[2]   user id
ARGV[3]   request fingerprint or ''
ARGV[4]   admission policy (see includes/admission.lua)
ARGV[5]   the admission's queue position (verified on the loop), '' without one
ARGV[6..] seat ids (validated and distinct)

Returns {status, body}:
  201 booking JSON (status held)
  400 unknown_seats (+"seats")          404 event_not_found
  409 seats_unavailable (+"seats": exactly the held or sold ones)
  409 sales_closed                      422 limit_exceeded (seats or live holds)
  403 admission_required / admission_invalid (a queued event: no admission, or one the queue has not reached)
  422 idempotency_mismatch; a replay returns the recorded reply.
  {429, body, retry-after seconds}: rate_limited / too_many_idempotency_keys
  (not recorded under the Idempotency-Key).
Cost (INFO commandstats usec_per_call, 2026-12-07, 2 cores): 44-48 us per
call under redis-benchmark (64 clients, 2 random seats of a 250,000-seat
event, 45% of the calls hold); 43-55 us behind `seatlock serve`
(scripts/bench-cost (d), scripts/bench-hold). scripts/peer/minimal_hold.lua
costs 11-15 us on the same Redis (it reads no seat map and keeps no free set):
most of the difference is the free sets'
skiplists (ZREM) and the large hashes' lookups (perf: dictFind, zslDelete),
then the two log entries, the limits and the booking JSON. On a slower
2-core machine (2026-12-07, later): 62-90 us per call under redis-benchmark
(noisy); median 53-54 us per call with the include's unused functions left
out, 57-60 us with them (both versions at once on one Redis, SLOWLOG).

A refusal writes nothing (the rate limits are spent only by a hold that is
made) but, with an Idempotency-Key, its record and the key count, and, for a
queued event, the attempt's bits in sl:{E}:queue:tried/told (includes/holding.lua).
]]
--@include common
--@include seats
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

local seats = {}
for i = 6, #ARGV do seats[#seats + 1] = ARGV[i] end
local prices = redis.call('HMGET', h.seats, unpack(seats))
local unknown, taken = {}, {}
-- Free means in its section's free set (one ZMSCORE per section): not held,
-- not sold. A free seat must also have no hold key: a hold whose key lapsed
-- before expire.lua ended its booking is not free yet (that seat comes back
-- through expire.lua, to the waitlist first), and a live hold key is never
-- overwritten, whatever the set says.
local known = {}
for i, seat in ipairs(seats) do
  if prices[i] then known[#known + 1] = seat else unknown[#unknown + 1] = seat end
end
local sections, groups = by_section(known)
local hold_keys = {}
for _, section in ipairs(sections) do
  local list = groups[section]
  local scores = redis.call('ZMSCORE', h.free_prefix .. section, unpack(list))
  for i, seat in ipairs(list) do
    if scores[i] then hold_keys[#hold_keys + 1] = h.hold_prefix .. seat else taken[#taken + 1] = seat end
  end
end
if #hold_keys > 0 and redis.call('EXISTS', unpack(hold_keys)) > 0 then
  for _, key in ipairs(hold_keys) do -- (rare: only to name the seats)
    if redis.call('EXISTS', key) == 1 then taken[#taken + 1] = string.sub(key, #h.hold_prefix + 1) end
  end
end
if #unknown > 0 then
  return hold_fail(h, 400, 'unknown_seats', 'these seats do not exist in this event', ',"seats":' .. json_list(unknown))
end
if #taken > 0 then
  return hold_fail(h, 409, 'seats_unavailable', 'some seats are already held or sold', ',"seats":' .. json_list(taken))
end
local limit = over_limit(h, event, #seats)
if limit then return limit end
return write_hold(h, event, seats, prices)
