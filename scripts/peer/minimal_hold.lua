--[[ minimal_hold.lua — the least a seat hold can do, for the cost baselines of
scripts/bench-cost (redis-benchmark calls it with no HTTP; scripts/peer/
hold_server.py calls it behind aiohttp). Not used by Seatlock itself.

KEYS[1]  sl:{E}:event          event hash (status, holdSeconds)
KEYS[2]  sl:{E}:booking:B      the new booking
KEYS[3]  sl:{E}:expiry:B       the booking's hold timer (PX TTL)
KEYS[4]  sl:{E}:expiries       booking id by deadline
KEYS[5]  sl:{E}:log            the event's log stream
KEYS[6..] sl:{E}:hold:SEAT     one hold key per seat
ARGV[1]  booking id   ARGV[2] user id   ARGV[3] the seats, comma-separated

Returns 1 (held) or 0 (a seat is taken, or sales are not open).
]]
local e = redis.call('HMGET', KEYS[1], 'status', 'holdSeconds')
if e[1] ~= 'open' then return 0 end
for i = 6, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
local ms = tonumber(e[2]) * 1000
for i = 6, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'PX', ms) end
local t = redis.call('TIME')
local deadline = t[1] * 1000 + math.floor(t[2] / 1000) + ms
redis.call('HSET', KEYS[2], 'userId', ARGV[2], 'status', 'held', 'seats', ARGV[3], 'expiresAt', deadline)
redis.call('SET', KEYS[3], ARGV[1], 'PX', ms)
redis.call('ZADD', KEYS[4], deadline, ARGV[1])
redis.call('XADD', KEYS[5], '*', 'type', 'booking.initiated', 'bookingId', ARGV[1], 'userId', ARGV[2], 'seats', ARGV[3])
return 1
