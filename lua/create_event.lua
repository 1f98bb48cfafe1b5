--[[ create_event.lua — create an event and its seat map in one call, or,
for a large map, the event over the seats add_seats.lua wrote in chunks.

KEYS[1] sl:{E}:event             event hash
KEYS[2] sl:{E}:seats             seat id -> price in cents
KEYS[3] sl:{E}:log               the event's log stream
KEYS[4] sl:{E}:idem:CALLER:K     idempotency record (sl:{E}:idem:-, unused, when ARGV[1] is '')
KEYS[5] sl:{E}:free:             prefix of the per-section free-seat sorted sets (free:SECTION) and row indexes (free:SECTION:runs)
KEYS[6] sl:{E}:creating          claim of a chunked creation (add_seats.lua); deleted here
KEYS[7] sl:{E}:queue             the on-sale queue (includes/queue.lua), written when ARGV[9] names one
ARGV[1] request fingerprint, '' without Idempotency-Key
ARGV[2] event id
ARGV[3] name
ARGV[4] venue
ARGV[5] startsAt (ISO 8601)
ARGV[6] holdSeconds
ARGV[7] maxSeatsPerUser
ARGV[8] the creation token add_seats.lua wrote the seats under, or '' to write them here
ARGV[9] the queue: 'opensAtMs admitPerSecond admissionSeconds', or '' to sell directly
ARGV[10..] per section, four values: id, rows, seatsPerRow, priceCents

Returns {status, body}: 201 event JSON; 409 event_exists; 422 idempotency_mismatch;
409 creation_interrupted (the chunks were written under another token: not recorded).
The caller adds the id to `sl:events` (another hash slot) after a 201.
Seats are written in batches: Lua's unpack() cannot take 50,000 arguments.
]]
--@include common
--@include seats
--@include row_index

local replay = idem_replay(KEYS[4], ARGV[1])
if replay then return replay end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return respond(KEYS[4], ARGV[1], 409, error_body('event_exists', 'an event with this id already exists'))
end

local chunked = ARGV[8] ~= ''
if chunked and redis.call('GET', KEYS[6]) ~= ARGV[8] then
  return {409, error_body('creation_interrupted', 'another creation of this event wrote its seats meanwhile: retry')}
end

local now = now_ms()
local capacity, sections, section_ids = 0, {}, {}
for i = 10, #ARGV, 4 do
  local id, rows, per_row, price = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3]
  sections[#sections + 1] = id .. ':' .. rows .. ':' .. per_row .. ':' .. price
  section_ids[#section_ids + 1] = id
  if not chunked then add_rows(KEYS[2], KEYS[5], id, 1, rows, per_row, price) end -- (else add_seats.lua wrote them)
  build_runs(KEYS[5], id, rows, tonumber(ARGV[7]), per_row)
  capacity = capacity + rows * per_row
end

redis.call('DEL', KEYS[6])
redis.call('HSET', KEYS[1], 'id', ARGV[2], 'name', ARGV[3], 'venue', ARGV[4], 'startsAt', ARGV[5],
  'holdSeconds', ARGV[6], 'maxSeatsPerUser', ARGV[7], 'sections', table.concat(sections, ','),
  'capacity', capacity, 'status', 'open', 'held', 0, 'sold', 0, 'revenueCents', 0, 'createdAt', now)
if ARGV[9] ~= '' then
  local opens, rate, admission = string.match(ARGV[9], '^(%d+) (%d+) (%d+)$')
  redis.call('HSET', KEYS[7], 'status', tonumber(opens) > now and 'prequeue' or 'open', 'opensAt', opens,
    'admitPerSecond', rate, 'admissionSeconds', admission, 'joined', 0, 'serving', 0, 'prequeued', 0, 'lastTick', now)
  redis.call('HSET', KEYS[1], 'queue', ARGV[9])
end
log_event(KEYS[3], 'event.created', ARGV[2], now, {'capacity', capacity, 'sections', table.concat(section_ids, ',')})
return respond(KEYS[4], ARGV[1], 201, event_json(read_hash(KEYS[1])))
