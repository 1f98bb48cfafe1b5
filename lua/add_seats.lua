--[[ add_seats.lua — write one chunk of a large event's seat map, before
create_event.lua makes the event: a 250,000-seat map in one call kept Redis
busy for 0.67 s, in chunks of at most 10,000 seats no call takes long.

KEYS[1] sl:{E}:event      event hash (must not exist yet)
KEYS[2] sl:{E}:seats      seat id -> price in cents
KEYS[3] sl:{E}:free:      prefix of the per-section free-seat sorted sets (free:SECTION) and row indexes (free:SECTION:runs)
KEYS[4] sl:{E}:creating   claim of the creation writing the seats: its token (60 s, renewed by each chunk)
ARGV[1] creation token (the request's fingerprint, or a random one)
ARGV[2] 1 for the first chunk, else 0
ARGV[3] section id
ARGV[4] first row
ARGV[5] last row
ARGV[6] seats per row
ARGV[7] price in cents
ARGV[8..] (first chunk) every section id of the event: cleared first, with the seats
hash, so that what an abandoned creation left is not merged into this one

Returns {1, 'written'}; {0, 'exists'} (the event exists: create_event.lua
answers, with the replay or 409); {0, 'busy'} (another creation holds the claim).
Nothing is visible to buyers until create_event.lua writes the event hash.
]]
--@include common
--@include seats

if redis.call('EXISTS', KEYS[1]) == 1 then return {0, 'exists'} end
local claimed = redis.call('SET', KEYS[4], ARGV[1], 'NX', 'EX', 60)
if not claimed then
  if redis.call('GET', KEYS[4]) ~= ARGV[1] then return {0, 'busy'} end
  redis.call('EXPIRE', KEYS[4], 60)
end

if ARGV[2] == '1' then
  redis.call('DEL', KEYS[2])
  for i = 8, #ARGV do redis.call('DEL', KEYS[3] .. ARGV[i], KEYS[3] .. ARGV[i] .. ':runs') end
end

add_rows(KEYS[2], KEYS[3], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7])
return {1, 'written'}
