--[[ queue_join.lua — a buyer takes a place in the event's on-sale queue (idempotent).

KEYS[1] sl:{E}:queue       the queue hash (see includes/queue.lua)
KEYS[2] sl:{E}:queue:pre   the prequeue (user id by random draw)
KEYS[3] sl:{E}:queue:who   user id -> position, for joins after the open
KEYS[4] sl:{E}:event       event hash
KEYS[5] sl:{E}:log         the event's log stream
ARGV[1] user id
ARGV[2] a random draw (0 <= d < 2^52), the buyer's place in the prequeue's shuffle

Returns {status, word, position, state...}: status 201 (new place) or 200
(already in: the same place; the draw is ignored); word 'joined'. Refusals:
{404, body} event_not_found, {409, body} no_queue / sales_closed / sold_out.
Position 0 means "in the prequeue, drawn at opensAt".
]]
--@include common
--@include queue

local q = {queue = KEYS[1], pre = KEYS[2], who = KEYS[3], event = KEYS[4], log = KEYS[5]}
local user_id = ARGV[1]
local inv = inventory(q.event)
if not inv then return {404, error_body('event_not_found', 'no such event')} end
local s = read_hash(q.queue)
if not s then return {409, error_body('no_queue', 'this event sells directly, without a queue: book at POST /v1/events/{id}/bookings')} end
local now = now_ms()
s = open_if_due(q, s, now)
local position = position_of(q, s, user_id)
local status = 200
if not position then
  if inv.sales ~= 'open' then return {409, error_body('sales_closed', 'sales are closed for this event')} end
  if s.status == 'sold_out' or inv.exhausted then
    return {409, error_body('sold_out', 'every seat is sold or promised to the waitlist: join the waitlist at POST /v1/events/{id}/waitlist', ',"available":0')}
  end
  status = 201
  if s.status == 'prequeue' then
    redis.call('ZADD', q.pre, tonumber(ARGV[2]), user_id)
    position = 0
  else
    position = redis.call('HINCRBY', q.queue, 'joined', 1)
    redis.call('HSET', q.who, user_id, position)
    s.joined = tostring(position)
  end
end
if s.status == 'prequeue' then s.prequeued = tostring(redis.call('ZCARD', q.pre)) end
local reply = {status, 'joined', position}
for _, v in ipairs(queue_state(s, inv)) do reply[#reply + 1] = v end
return reply
