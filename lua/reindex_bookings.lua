--[[ reindex_bookings.lua — puts existing bookings into the booking lists
(`seatlock reindex`: bookings made before the lists existed, or after an
operator's hand edit). Each booking is read and listed in one atomic call,
so a script changing its status at the same moment cannot leave it in a
wrong status list.

KEYS[1] sl:{E}:bookings   the booking lists (includes/booking_index.lua)
KEYS[2] sl:{E}:booking:   prefix of bookings (booking:B)
ARGV[1..] booking ids

Returns how many list entries it added (0: every one was listed already).
A booking is taken out of every other status's list (a stale entry there
would be listed twice).
]]
--@include common
--@include booking_index

local statuses = {'held', 'payment_pending', 'confirmed', 'released', 'expired', 'cancelled', 'refund_pending', 'refunded'}
local added = 0
for _, id in ipairs(ARGV) do
  local f = redis.call('HMGET', KEYS[2] .. id, 'id', 'userId', 'status', 'createdAt')
  if f[1] and f[2] and f[3] and f[4] then
    local b = {id = f[1], userId = f[2], status = f[3], createdAt = f[4]}
    local entry = index_entry(b)
    for _, status in ipairs(statuses) do
      if status ~= b.status then redis.call('ZREM', KEYS[1] .. ':status:' .. status, entry) end
    end
    added = added + redis.call('ZADD', KEYS[1], 'NX', 0, entry) + redis.call('ZADD', KEYS[1] .. ':status:' .. b.status, 'NX', 0, entry)
      + redis.call('ZADD', KEYS[1] .. ':user:' .. b.userId, 'NX', 0, entry)
  end
end
return added
