-- queue.lua: the on-sale queue's shared steps (queue_join.lua, queue_tick.lua,
-- queue_control.lua). Included after common. Keys come from the caller: `q`,
-- a table with the fields
--   queue  sl:{E}:queue       hash: status opensAt admitPerSecond admissionSeconds
--                             joined serving prequeued told tried lastTick credit paused
--                             misses soldOutAt soldOutAvailable
--   pre    sl:{E}:queue:pre   sorted set: the prequeue, user id by a random draw
--   who    sl:{E}:queue:who   hash: user id -> position (joined after the open)
--   event  sl:{E}:event       the event hash (counters, status)
--   log    sl:{E}:log         the event's log stream
--
-- Positions are 1, 2, 3 ... in admission order. The prequeue's order is its
-- sorted set's (the random score the server drew at join, ties by user id),
-- fixed at the open: the prequeue holds positions 1..prequeued and a member's
-- position is its rank. Later joiners take the next number (first come,
-- first served). A buyer at position p is admitted once serving >= p.

-- Opens a prequeued queue whose opensAt has passed: the prequeue's order
-- becomes the first `prequeued` positions. Returns the queue table.
local function open_if_due(q, s, now)
  if s.status ~= 'prequeue' or now < tonumber(s.opensAt) then return s end
  local prequeued = redis.call('ZCARD', q.pre)
  redis.call('HSET', q.queue, 'status', 'open', 'prequeued', prequeued, 'joined', prequeued, 'lastTick', now, 'openedAt', now)
  s.status, s.prequeued, s.joined, s.lastTick = 'open', tostring(prequeued), tostring(prequeued), tostring(now)
  log_event(q.log, 'queue.opened', event_id_of(q.queue), now, {'prequeued', prequeued, 'servingPosition', 0, 'joined', prequeued})
  return s
end

-- The buyer's position, 0 while in the prequeue, or nil when not in the queue.
local function position_of(q, s, user_id)
  local position = redis.call('HGET', q.who, user_id)
  if position then return tonumber(position) end
  if redis.call('ZSCORE', q.pre, user_id) then
    if s.status == 'prequeue' then return 0 end
    return redis.call('ZRANK', q.pre, user_id) + 1
  end
  return nil
end

-- The event's inventory as the queue sees it. Nothing can reach the queue
-- once nothing is available and every held seat is either gone for good or
-- already promised to the waitlist (seats that come back go there first).
local function inventory(event_key)
  local e = redis.call('HMGET', event_key, 'capacity', 'held', 'sold', 'status', 'waitlistSeats')
  if not e[1] then return nil end
  local capacity, held, sold = tonumber(e[1]), tonumber(e[2] or 0), tonumber(e[3] or 0)
  local wanted = tonumber(e[5] or 0)
  local available = capacity - held - sold
  return {capacity = capacity, held = held, sold = sold, available = available, sales = e[4], wanted = wanted,
          exhausted = available <= 0 and (held <= 0 or wanted >= held)}
end

-- Automatic admission admits at least this many buyers while any seat is
-- left, and this many admitted buyers in a row (or as many as there are
-- seats left, when more) must come away without seats before the seats left
-- count as remnants nobody in the queue takes: a few single seats apart, say,
-- when every buyer wants two together. The queue then says sold out (the
-- waiting would otherwise wait for seats they cannot use), and the waitlist
-- opens to them (waitlist_join.lua).
local remnant_probe = 10

-- Whether the seats left are remnants: the hold scripts count `misses`
-- (admitted buyers' holds refused 409) in the queue hash, and any hold made
-- sets it back to 0 (includes/holding.lua).
local function only_remnants(s, inv)
  return inv.available > 0 and tonumber(s.misses or 0) >= math.max(remnant_probe, inv.available)
end

-- The event's inventory and the queue's state, or nil and the reply for an
-- event that does not exist or sells directly (queue_join, queue_control).
local function load_queue(q)
  local inv = inventory(q.event)
  if not inv then return nil, nil, {404, error_body('event_not_found', 'no such event')} end
  local s = read_hash(q.queue)
  if not s then
    return nil, nil, {409, error_body('no_queue', 'this event sells directly, without a queue: book at POST /v1/events/{id}/bookings')}
  end
  return inv, s
end

-- Draws are below 2^52 (QueueTokens.drawRange): exact in a sorted set's score.
local draw_range = 4503599627370496

-- The prequeue's frontier: the draw and user id of the last prequeue buyer
-- the queue has reached (rank `serving`), so that a loop tells a prequeue
-- ticket after the open whether it is admitted by comparing its draw
-- (QueueState.hasReached), with no Redis call per buyer; only the buyers
-- reached ask Redis for their exact position (queue_join). -1 before the
-- open or the first admission; 2^52, above every draw, once the whole
-- prequeue is reached.
local function frontier(q, s)
  local serving, prequeued = tonumber(s.serving or 0), tonumber(s.prequeued or 0)
  if s.status == 'prequeue' or serving <= 0 then return -1, '' end
  if serving >= prequeued then return draw_range, '' end
  local last = redis.call('ZRANGE', q.pre, serving - 1, serving - 1, 'WITHSCORES')
  if not last[1] then return -1, '' end
  return tonumber(last[2]), last[1]
end

-- The state every reply carries, as a flat list (ScriptReplies.QueueState):
-- status, joined, serving, prequeued, admitPerSecond, admissionSeconds,
-- opensAt, available, held, sold, lastAdvancedAt, soldOutAt (0: never),
-- the frontier's draw and user id.
local function queue_state(q, s, inv)
  local status = s.status
  if status == 'open' and s.paused == '1' then status = 'paused' end
  if inv.sales == 'cancelled' then status = 'cancelled' elseif inv.sales ~= 'open' then status = 'closed' end
  local front_draw, front_user = frontier(q, s)
  return {status, tonumber(s.joined or 0), tonumber(s.serving or 0), tonumber(s.prequeued or 0),
          tonumber(s.admitPerSecond or 0), tonumber(s.admissionSeconds), tonumber(s.opensAt),
          inv.available, inv.held, inv.sold, tonumber(s.lastAdvancedAt or 0), tonumber(s.soldOutAt or 0),
          front_draw, front_user}
end

-- {code, word, state..., extra...}: the reply of the queue scripts.
local function state_reply(q, code, word, s, inv, extra)
  local reply = {code, word}
  for _, v in ipairs(queue_state(q, s, inv)) do reply[#reply + 1] = v end
  for _, v in ipairs(extra or {}) do reply[#reply + 1] = v end
  return reply
end
