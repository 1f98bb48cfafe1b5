--[[ queue_tick.lua — moves the queue on: opens it at opensAt, advances the
serving position, and follows the inventory (sold out, seats back).

Every server loop calls it for the queued events it serves, about every
100 ms; calls closer than 100 ms to the last advance only read, so the
number of loops does not change the pace.

KEYS[1] sl:{E}:queue              the queue hash (see includes/queue.lua)
KEYS[2] sl:{E}:queue:pre          the prequeue
KEYS[3] sl:{E}:queue:who          user id -> position
KEYS[4] sl:{E}:event              event hash
KEYS[5] sl:{E}:log                the event's log stream
KEYS[6] sl:{E}:queue:checkpoints  list of "serving:told:tried:ms", one per advance (and a second while still), as old as admissionSeconds
KEYS[7] sl:{E}:queue:told         bitmap: positions whose buyers were told "admitted"
KEYS[8] sl:{E}:queue:recent       the same checkpoints, as old as 35 s (the counts' lapse, below)
ARGV[1] automatic admission's bound on admitted buyers without a hold yet (e.g. 2000)
ARGV[2..] positions the calling loop told "admitted" since its last call (each counted once, ever)

How far it advances:
  fixed (admitPerSecond > 0): that many positions per second (fractions carried);
  automatic (0): while the buyers told "admitted" who have not tried to
    hold yet are fewer than min(bound, max(seats available, 10)) - a buyer is
    "shopping" from the poll that first tells them until their first hold
    attempt (includes/holding.lua counts it, made or refused) or for 35 s
    at most - and while fewer than 2 x `bound` positions admitted within
    the last 35 s are not told yet (their buyers poll later).
Neither advances while nothing is available (seats may come back) or while paused.
The queue is sold out when nothing is available and every held seat is
already wanted by the waitlist, or when the seats left are remnants that
admitted buyers keep failing to take (includes/queue.lua, only_remnants).

Returns {0, 'no_event'} or {0, 'no_queue'} (an event that sells directly), else
{1, 'state', state...} (includes/queue.lua, queue_state).
]]
--@include common
--@include queue

local q = {queue = KEYS[1], pre = KEYS[2], who = KEYS[3], event = KEYS[4], log = KEYS[5]}
local checkpoints, told_bits, recent = KEYS[6], KEYS[7], KEYS[8]
-- Admitted buyers count as shopping, or as not told yet, for this long at
-- most (the admission window, when shorter): a waiting buyer is asked back
-- within 30 s at most (QueueView.maxRetryAfter), so a position admitted
-- longer ago and still not told is a buyer who left, and one told that long
-- ago who never tried will not come with the rush.
local lapse_seconds = 35
local bound = tonumber(ARGV[1])
local inv = inventory(q.event)
local s = read_hash(q.queue)
if not inv then return {0, 'no_event'} end
if not s then return {0, 'no_queue'} end
local now = now_ms()
s = open_if_due(q, s, now)
if s.status == 'prequeue' then s.prequeued = tostring(redis.call('ZCARD', q.pre)) end
local event_id = event_id_of(q.queue)

-- Sold out: nothing left to sell (or only remnants) and nothing held that may
-- come back to the queue. It resumes when more seats are available than when it
-- said so (seats came back and the waitlist did not take them) and nobody
-- waits on the waitlist: free seats are offered there first, with each join
-- and each return (includes/waitlist.lua, offer_with_free), and the buyers
-- told sold out have left the queue: reopening it for them would admit
-- positions nobody polls for and send every waiting buyer another round.
local remnants = only_remnants(s, inv)
local sold_out_with = tonumber(s.soldOutAvailable or 0)
if s.status == 'open' and (inv.exhausted or remnants) then
  local left = math.max(0, inv.available)
  s.status, s.soldOutAt, s.soldOutAvailable = 'sold_out', tostring(now), tostring(left)
  redis.call('HSET', q.queue, 'status', 'sold_out', 'soldOutAt', now, 'soldOutAvailable', left)
  log_event(q.log, 'queue.sold_out', event_id, now, {'servingPosition', s.serving or 0, 'joined', s.joined or 0,
    'held', inv.held, 'waitlistSeats', inv.wanted, 'available', left, 'reason', remnants and 'remnants' or 'nothing_left'})
elseif s.status == 'sold_out' and inv.available > sold_out_with and inv.wanted <= 0 then
  s.status, s.misses = 'open', '0'
  redis.call('HSET', q.queue, 'status', 'open', 'misses', 0)
  log_event(q.log, 'queue.resumed', event_id, now, {'reason', 'seats_back', 'available', inv.available,
    'servingPosition', s.serving or 0, 'joined', s.joined or 0})
elseif s.status == 'sold_out' and inv.available < sold_out_with then
  s.soldOutAvailable = tostring(math.max(0, inv.available)) -- (remnants sold meanwhile: a seat back is more again)
  redis.call('HSET', q.queue, 'soldOutAvailable', s.soldOutAvailable)
end

-- Drops the checkpoints of `list` older than `cutoff` but the newest of
-- them, and returns that one's serving, told and tried (0s if none).
local function oldest_kept(list, cutoff)
  local serving, told, tried = 0, 0, 0
  while true do
    local first = redis.call('LINDEX', list, 0)
    if not first then break end
    local cs, ct, cr, cms = string.match(first, '^(%d+):(%d+):(%d+):(%d+)$')
    if not cms or tonumber(cms) > cutoff then break end
    serving, told, tried = tonumber(cs), tonumber(ct), tonumber(cr)
    local second = redis.call('LINDEX', list, 1)
    if not second or tonumber(string.match(second, ':(%d+)$')) > cutoff then break end
    redis.call('LPOP', list)
  end
  return serving, told, tried
end

local newly_told = 0
for i = 2, #ARGV do
  local position = tonumber(ARGV[i])
  if position >= 1 and position <= tonumber(s.serving or 0) and redis.call('SETBIT', told_bits, position, 1) == 0 then
    newly_told = newly_told + 1
  end
end
if newly_told > 0 then s.told = tostring(redis.call('HINCRBY', q.queue, 'told', newly_told)) end

local last = tonumber(s.lastTick or now)
if s.status == 'open' and s.paused ~= '1' and inv.sales == 'open' and now - last >= 100 then
  local serving, joined = tonumber(s.serving or 0), tonumber(s.joined or 0)
  local told, tried = tonumber(s.told or 0), tonumber(s.tried or 0)
  -- Positions up to the newest checkpoint older than `lapse_ms` have either
  -- tried or lapsed. The checkpoints of the admission window stay (the
  -- loops read when each position was reached from them); older are dropped.
  local lapse_ms = math.min(lapse_seconds, tonumber(s.admissionSeconds)) * 1000
  local lapsed_serving, lapsed_told, lapsed_tried = oldest_kept(recent, now - lapse_ms)
  oldest_kept(checkpoints, now - tonumber(s.admissionSeconds) * 1000)
  local step = 0
  if inv.available > 0 then
    local rate = tonumber(s.admitPerSecond or 0)
    if rate > 0 then
      local credit = tonumber(s.credit or 0) + rate * math.min(now - last, 1000) / 1000
      step = math.floor(credit)
      redis.call('HSET', q.queue, 'credit', tostring(credit - step))
    else
      -- Both counts only over the admission window: a buyer who never tries, or never
      -- polls to be told, stops counting once their admission has lapsed.
      local shopping = math.max(0, (told - tried) - math.max(0, lapsed_told - lapsed_tried))
      local untold = math.max(0, (serving - lapsed_serving) - (told - lapsed_told))
      step = math.min(math.min(bound, math.max(inv.available, remnant_probe)) - shopping, 2 * bound - untold)
    end
    step = math.max(0, math.min(step, joined - serving))
  else
    redis.call('HSET', q.queue, 'credit', '0')
  end
  if step > 0 then
    serving = serving + step
    s.serving, s.lastAdvancedAt = tostring(serving), tostring(now)
    redis.call('HSET', q.queue, 'serving', serving, 'lastAdvancedAt', now)
    log_event(q.log, 'queue.advanced', event_id, now, {'servingPosition', serving, 'joined', joined, 'admitted', step})
  end
  -- A checkpoint per advance, and one a second while the queue stands still, so
  -- that what was admitted before a standstill lapses out of the counts above.
  local newest = redis.call('LINDEX', checkpoints, -1)
  if step > 0 or not newest or now - tonumber(string.match(newest, ':(%d+)$')) >= 1000 then
    local checkpoint = serving .. ':' .. told .. ':' .. tried .. ':' .. now
    redis.call('RPUSH', checkpoints, checkpoint)
    redis.call('RPUSH', recent, checkpoint)
  end
  redis.call('HSET', q.queue, 'lastTick', now)
end

return state_reply(q, 1, 'state', s, inv)
