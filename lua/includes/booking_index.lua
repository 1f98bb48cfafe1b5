-- booking_index.lua: the booking lists (GET /v1/events/{e}/bookings, and the
-- cancellation's batches), kept by every script that creates a booking or
-- changes its status, in the same call. Included after common.
--
-- The caller passes `index`, its KEYS entry sl:{E}:bookings: that sorted set
-- holds every booking of the event; bookings:status:S those in status S;
-- bookings:user:U buyer U's. Every member is `CREATEDMS:ID` (13 digits) with
-- score 0, so a set reads in creation order by lex range and a page resumes
-- after its last member (ZRANGE BYLEX "(member"): O(log N + page), with no
-- cursor state kept in Redis.

local function index_entry(b)
  return string.format('%013d', tonumber(b.createdAt)) .. ':' .. b.id
end

-- A new booking `b` (id, userId, status, createdAt).
local function index_booking(index, b)
  local entry = index_entry(b)
  redis.call('ZADD', index, 0, entry)
  redis.call('ZADD', index .. ':status:' .. b.status, 0, entry)
  redis.call('ZADD', index .. ':user:' .. b.userId, 0, entry)
end

-- Booking `b` moved from status `from` to `to`.
local function index_status(index, b, from, to)
  local entry = index_entry(b)
  redis.call('ZREM', index .. ':status:' .. from, entry)
  redis.call('ZADD', index .. ':status:' .. to, 0, entry)
end
