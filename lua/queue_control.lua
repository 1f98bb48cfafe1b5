--[[ queue_control.lua — an organizer pauses or resumes admission (idempotent).

KEYS[1] sl:{E}:queue       the queue hash
KEYS[2] sl:{E}:queue:pre   the prequeue
KEYS[3] sl:{E}:queue:who   user id -> position
KEYS[4] sl:{E}:event       event hash
KEYS[5] sl:{E}:log         the event's log stream
ARGV[1] pause | resume
ARGV[2] actor (admin, operator)

While paused nobody new is admitted; buyers already admitted keep their
admission. Returns {200, 'state', state...} (includes/queue.lua), or
{404, body} event_not_found, {409, body} no_queue.
]]
--@include common
--@include queue

local q = {queue = KEYS[1], pre = KEYS[2], who = KEYS[3], event = KEYS[4], log = KEYS[5]}
local inv, s, refusal = load_queue(q)
if not inv then return refusal end
local now = now_ms()
local paused = ARGV[1] == 'pause' and '1' or '0'
if (s.paused or '0') ~= paused then
  redis.call('HSET', q.queue, 'paused', paused, 'lastTick', now)
  s.paused = paused
  log_event(q.log, paused == '1' and 'queue.paused' or 'queue.resumed', event_id_of(q.queue), now,
    {'servingPosition', s.serving or 0, 'joined', s.joined or 0, 'actor', ARGV[2]})
end
return state_reply(q, 200, 'state', s, inv)
