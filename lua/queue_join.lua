--[[ queue_join.lua — buyers take a place in the event's on-sale queue (idempotent).
A loop gathers the joins that arrive within a millisecond or so into one
call, so that a rush of joins costs Redis a few commands per buyer, not a
script call each.

KEYS[1] sl:{E}:queue       the queue hash (see includes/queue.lua)
KEYS[2] sl:{E}:queue:pre   the prequeue (user id by random draw)
KEYS[3] sl:{E}:queue:who   user id -> position, for joins after the open
KEYS[4] sl:{E}:event       event hash
KEYS[5] sl:{E}:log         the event's log stream
ARGV[1..] pairs: user id, a random draw (0 <= d < 2^52: the buyer's place in
          the prequeue's shuffle; ignored for a buyer already in)

Returns {1, 'joined', state..., then per buyer: status, position}
(state: includes/queue.lua queue_state). Status 201 (a new place), 200
(already in: the same place), 409 (not let in: sold out or sales closed; position 0).
Position 0 with 201/200 means "in the prequeue, drawn at opensAt".
Refusals for the whole event: {404, body} event_not_found, {409, body} no_queue.
]]
--@include common
--@include queue

local q = {queue = KEYS[1], pre = KEYS[2], who = KEYS[3], event = KEYS[4], log = KEYS[5]}
local inv, s, refusal = load_queue(q)
if not inv then return refusal end
local now = now_ms()
s = open_if_due(q, s, now)
local closed = inv.sales ~= 'open' or s.status == 'sold_out' or inv.exhausted
local places = {}
for i = 1, #ARGV, 2 do
  local user_id = ARGV[i]
  local position = position_of(q, s, user_id)
  local status = 200
  if not position then
    if closed then
      status, position = 409, 0
    elseif s.status == 'prequeue' then
      redis.call('ZADD', q.pre, tonumber(ARGV[i + 1]), user_id)
      status, position = 201, 0
    else
      position = redis.call('HINCRBY', q.queue, 'joined', 1)
      redis.call('HSET', q.who, user_id, position)
      s.joined = tostring(position)
      status = 201
    end
  end
  places[#places + 1] = status
  places[#places + 1] = position
end
if s.status == 'prequeue' then s.prequeued = tostring(redis.call('ZCARD', q.pre)) end
return state_reply(q, 1, 'joined', s, inv, places)
