--[[ analytics_apply.lua — fold log entries into the event's analytics (the
`analytics` consumer group, and `AnalyticsService.rebuild`), a batch of
entries of one event per call.

Entries are applied in log order, each exactly once. An entry whose id is
<= lastEntry was applied already (a redelivery): nothing changes. An entry
with a log entry between lastEntry and itself comes too early (the one
before it failed, or was left pending by a crashed consumer): it is refused
with 'gap', and so is every entry after it in the call; the caller applies
the log after lastEntry first. So the figures are a fold of the log, in
order, whatever the delivery order. They depend on the log alone: times are
the entry's `at` and the booking's `createdAt` (never rewritten), never the
clock, so a replay of the log gives the same figures, series and histogram
included. The counters, lastEntry and each series slot are written once
per call, whatever the number of entries (the buyers' HyperLogLog too).

KEYS[1] sl:{E}:stats              hash: counters, live held/sold, lastEntry
KEYS[2] sl:{E}:stats:buyers       HyperLogLog of buyer ids
KEYS[3] sl:{E}:stats:confirm_ms   hash: hold -> confirmation histogram (ms)
KEYS[4] sl:{E}:stats:series       hash: per-second ring buffer, field = second % 3600
KEYS[5] sl:{E}:log                the event's log (read only: is this the next entry?)
KEYS[6..] sl:{E}:booking:B        per entry, in order: its booking, read for booking.confirmed (`sl:{E}:booking:` for any other entry)
(A rebuild passes staging keys as KEYS[1..4] and swaps them in at the end.)
ARGV[1..] the entries, in log order, each as: its id (ms-seq), N, then N name/value pairs of its fields

Returns {lastEntry, outcome of entry 1, outcome of entry 2, ...}, each
outcome 'applied', 'duplicate' (already applied, nothing written), 'gap'
(an earlier log entry is not applied yet: nothing written for it or any
entry after it) or 'invalid' (not a stream id, skipped); lastEntry is the
last entry applied after the call.

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

local function after(ms, seq, other)
  local other_ms, other_seq = parse_id(other)
  return not other_ms or ms > other_ms or (ms == other_ms and seq > other_seq)
end

local counts = {}   -- stats field -> increment, over the whole call
local buyers = {}   -- buyer ids for the HyperLogLog, added once at the end
local seconds = {}  -- second -> series field -> increment
local function add(field, by) counts[field] = (counts[field] or 0) + by end
local function plot(at, field, by)
  if not at then return end
  local second = math.floor(at / 1000)
  local slot = seconds[second]
  if not slot then slot = {}; seconds[second] = slot end
  slot[field] = (slot[field] or 0) + by
end

-- One entry's effect on the counters, series and histogram.
local function fold(f, booking_key)
  local kind = f.type or ''
  -- A dead letter replayed for another group repeats an entry already counted.
  if f.replayFor and f.replayFor ~= 'analytics' then kind = 'replayed' end
  local at = integer(f.at)
  local n = seat_count(f.seats)
  local amount = integer(f.amountCents) or 0
  if kind == 'booking.initiated' then
    add('bookingsInitiated', 1); add('holds', 1)
    plot(at, 'holds', 1)
    if f.userId and f.userId ~= '' then buyers[#buyers + 1] = f.userId end
  elseif kind == 'seat.reserved' then
    add('seatsHeld', n); add('held', n)
    plot(at, 'seatsHeld', n)
  elseif kind == 'booking.confirmed' then
    add('confirmations', 1); add('seatsSold', n); add('held', -n); add('sold', n); add('revenueCents', amount)
    plot(at, 'confirmations', 1)
    plot(at, 'seatsSold', n)
    local created = integer(redis.call('HGET', booking_key, 'createdAt'))
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
    plot(at, 'expiries', 1)
  elseif kind == 'booking.released' then
    add('releases', 1); add('held', -n)
    plot(at, 'releases', 1)
  elseif kind == 'booking.cancelled' then
    if f.reason == 'refund_requested' or f.reason == 'event_cancelled' then -- (a sale given back for its refund)
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
end

local last = redis.call('HGET', KEYS[1], 'lastEntry') or ''
local first_last = last
local reply = {''}
local i, entry, gapped = 1, 0, false
while i <= #ARGV do
  entry = entry + 1
  local id, pairs_count = ARGV[i], tonumber(ARGV[i + 1]) or 0
  local first_field = i + 2
  i = first_field + 2 * pairs_count
  local id_ms, id_seq = parse_id(id)
  local outcome
  if gapped then
    outcome = 'gap'
  elseif not id_ms then
    outcome = 'invalid'
  elseif last ~= '' and not after(id_ms, id_seq, last) then
    outcome = 'duplicate'
  elseif #redis.call('XRANGE', KEYS[5], last == '' and '-' or '(' .. last, '(' .. id, 'COUNT', 1) > 0 then
    outcome, gapped = 'gap', true
  else
    local f = {}
    for j = first_field, i - 2, 2 do f[ARGV[j]] = ARGV[j + 1] end
    fold(f, KEYS[5 + entry])
    last, outcome = id, 'applied'
  end
  reply[#reply + 1] = outcome
end
reply[1] = last
if last == first_last then return reply end

for field, by in pairs(counts) do redis.call('HINCRBY', KEYS[1], field, by) end
for i = 1, #buyers, 1000 do redis.call('PFADD', KEYS[2], unpack(buyers, i, math.min(i + 999, #buyers))) end
redis.call('HSET', KEYS[1], 'lastEntry', last)

-- The series slot of each second: a slot left by an older second is started
-- over (3600 fields at most, whatever the event's length). A slot already
-- holding a later second is left alone (clock stepped back).
for second, series in pairs(seconds) do
  local field = tostring(second % SLOTS)
  local slot
  local stored = redis.call('HGET', KEYS[4], field)
  if stored then
    local ok, decoded = pcall(cjson.decode, stored)
    if ok and type(decoded) == 'table' then slot = decoded end
  end
  if not slot or tonumber(slot.t) ~= second then
    if slot and tonumber(slot.t) and tonumber(slot.t) > second then slot = nil else slot = {} end
  end
  if slot then
    local function value(name) return (tonumber(slot[name]) or 0) + (series[name] or 0) end
    redis.call('HSET', KEYS[4], field, string.format(
      '{"t":%d,"holds":%d,"confirmations":%d,"expiries":%d,"releases":%d,"seatsHeld":%d,"seatsSold":%d}',
      second, value('holds'), value('confirmations'), value('expiries'), value('releases'),
      value('seatsHeld'), value('seatsSold')))
  end
end

return reply
