--[[ analytics_apply.lua — fold one log entry into the event's analytics
(the `analytics` consumer group, and `AnalyticsService.rebuild`).

Entries are applied in log order, each exactly once. An entry whose id is
<= lastEntry was applied already (a redelivery): nothing changes. An entry
with a log entry between lastEntry and itself comes too early (the one
before it failed, or was left pending by a crashed consumer): it is refused
with 'gap' and nothing changes; the caller applies the log after lastEntry
first. So the figures are a fold of the log, in order, whatever the
delivery order. They depend on the log alone: times are the entry's `at`
and the booking's `createdAt` (never rewritten), never the clock, so a
replay of the log gives the same figures, series and histogram included.

KEYS[1] sl:{E}:stats              hash: counters, live held/sold, lastEntry
KEYS[2] sl:{E}:stats:buyers       HyperLogLog of buyer ids
KEYS[3] sl:{E}:stats:confirm_ms   hash: hold -> confirmation histogram (ms)
KEYS[4] sl:{E}:stats:series       hash: per-second ring buffer, field = second % 3600
KEYS[5] sl:{E}:booking:B          the entry's booking, read for booking.confirmed (`sl:{E}:booking:` when the entry has none)
KEYS[6] sl:{E}:log                the event's log (read only: is this the next entry?)
(A rebuild passes staging keys as KEYS[1..4] and swaps them in at the end.)
ARGV[1] entry id (ms-seq)
ARGV[2..] the entry's fields: name, value, name, value, ...

Returns {1, 'applied', id}; {0, 'duplicate', lastEntry} (already applied,
nothing written); {0, 'gap', lastEntry} (an earlier entry is not applied
yet, nothing written); {0, 'invalid', ''} (ARGV[1] is not a stream id).

What each topic does (n = number of seats in the entry's `seats`):
  booking.initiated    bookingsInitiated +1, holds +1, buyer into the HLL; series holds
  seat.reserved        seatsHeld +n, held +n; series seatsHeld
  booking.confirmed    confirmations +1, seatsSold +n, held -n, sold +n,
                       revenueCents +amountCents, histogram (at - createdAt);
                       series confirmations, seatsSold
  booking.expired      expiries +1, held -n; series expiries
  booking.released     releases +1, held -n; series releases
  booking.cancelled    reason refund_requested (a confirmed booking): refunds +1
                       (its seats come back with the seat.released that follows);
                       any other reason (payment_failed): cancellations +1, held -n
  seat.released        reason refund: sold -n. Other reasons change nothing: the
                       booking.expired / released / cancelled entry just before
                       it took all the booking's seats off `held`, as the event
                       hash does (this entry lists only the seats that became
                       free, fewer when a lapsed hold was taken by someone else).
  payment.requested / completed / failed / refunded   payments* +1
  payment.refund_requested   revenueCents -amountCents
  anything else        only lastEntry moves
`held` and `sold` follow the event hash's live counters exactly.
]]

local SLOTS = 3600
local BOUNDS = {100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000, 900000}

local function parse_id(id)
  local ms, seq = string.match(id or '', '^(%d+)-(%d+)$')
  if not ms then return nil end
  return tonumber(ms), tonumber(seq)
end

-- A field as an integer: nil when it is missing or not a plain number
-- (HINCRBY and %d must never fail on an odd entry: a script error would
-- leave a gap no later entry could pass).
local function integer(text)
  local n = tonumber(text)
  if not n or n ~= n or n >= 2^53 or n <= -2^53 then return nil end
  return math.floor(n)
end

local function seat_count(list)
  local n = 0
  for _ in string.gmatch(list or '', '[^,]+') do n = n + 1 end
  return n
end

-- Validate and decide before the first write.
local id = ARGV[1]
local id_ms, id_seq = parse_id(id)
if not id_ms then return {0, 'invalid', ''} end
local last = redis.call('HGET', KEYS[1], 'lastEntry') or ''
if last ~= '' then
  local last_ms, last_seq = parse_id(last)
  if last_ms and (id_ms < last_ms or (id_ms == last_ms and id_seq <= last_seq)) then
    return {0, 'duplicate', last}
  end
end
local before = redis.call('XRANGE', KEYS[6], last == '' and '-' or '(' .. last, '(' .. id, 'COUNT', 1)
if #before > 0 then return {0, 'gap', last} end

local f = {}
for i = 2, #ARGV - 1, 2 do f[ARGV[i]] = ARGV[i + 1] end
local kind = f.type or ''
-- A dead letter replayed for another group repeats an entry already counted.
if f.replayFor and f.replayFor ~= 'analytics' then kind = 'replayed' end
local at = integer(f.at)
local n = seat_count(f.seats)
local amount = integer(f.amountCents) or 0

local counts = {}   -- stats field -> increment
local series = {}   -- series field -> increment
local function add(field, by) counts[field] = (counts[field] or 0) + by end

if kind == 'booking.initiated' then
  add('bookingsInitiated', 1); add('holds', 1)
  series.holds = 1
  if f.userId and f.userId ~= '' then redis.call('PFADD', KEYS[2], f.userId) end
elseif kind == 'seat.reserved' then
  add('seatsHeld', n); add('held', n)
  series.seatsHeld = n
elseif kind == 'booking.confirmed' then
  add('confirmations', 1); add('seatsSold', n); add('held', -n); add('sold', n); add('revenueCents', amount)
  series.confirmations = 1
  series.seatsSold = n
  local created = integer(redis.call('HGET', KEYS[5], 'createdAt'))
  if created and at then
    local ms = math.max(0, at - created)
    local bucket = '+Inf'
    for _, bound in ipairs(BOUNDS) do
      if ms <= bound then bucket = tostring(bound) break end
    end
    redis.call('HINCRBY', KEYS[3], bucket, 1)
    redis.call('HINCRBY', KEYS[3], 'count', 1)
    redis.call('HINCRBY', KEYS[3], 'sum', ms)
    if ms > (tonumber(redis.call('HGET', KEYS[3], 'max')) or -1) then redis.call('HSET', KEYS[3], 'max', ms) end
  end
elseif kind == 'booking.expired' then
  add('expiries', 1); add('held', -n)
  series.expiries = 1
elseif kind == 'booking.released' then
  add('releases', 1); add('held', -n)
  series.releases = 1
elseif kind == 'booking.cancelled' then
  if f.reason == 'refund_requested' then
    add('refunds', 1)
  else
    add('cancellations', 1); add('held', -n)
  end
elseif kind == 'seat.released' then
  if f.reason == 'refund' then add('sold', -n) end
elseif kind == 'payment.requested' then
  add('paymentsRequested', 1)
elseif kind == 'payment.completed' then
  add('paymentsCompleted', 1)
elseif kind == 'payment.failed' then
  add('paymentsFailed', 1)
elseif kind == 'payment.refunded' then
  add('paymentsRefunded', 1)
elseif kind == 'payment.refund_requested' then
  add('revenueCents', -amount)
end

for field, by in pairs(counts) do redis.call('HINCRBY', KEYS[1], field, by) end
redis.call('HSET', KEYS[1], 'lastEntry', id)

-- The series slot for the entry's second; a slot left by an older second is
-- started over (3600 fields at most, whatever the event's length). A slot
-- already holding a later second is left alone (clock stepped back).
if next(series) and at then
  local second = math.floor(at / 1000)
  local field = tostring(second % SLOTS)
  local slot
  local stored = redis.call('HGET', KEYS[4], field)
  if stored then
    local ok, decoded = pcall(cjson.decode, stored)
    if ok and type(decoded) == 'table' then slot = decoded end
  end
  if not slot or tonumber(slot.t) ~= second then
    if slot and tonumber(slot.t) and tonumber(slot.t) > second then return {1, 'applied', id} end
    slot = {}
  end
  local function value(name) return (tonumber(slot[name]) or 0) + (series[name] or 0) end
  redis.call('HSET', KEYS[4], field, string.format(
    '{"t":%d,"holds":%d,"confirmations":%d,"expiries":%d,"releases":%d,"seatsHeld":%d,"seatsSold":%d}',
    second, value('holds'), value('confirmations'), value('expiries'), value('releases'),
    value('seatsHeld'), value('seatsSold')))
end

return {1, 'applied', id}
