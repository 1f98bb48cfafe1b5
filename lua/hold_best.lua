--[[ hold_best.lua — hold the best `quantity` seats of a section: adjacent in
one row when possible, front rows first.

KEYS: exactly as hold.lua (KEYS[1] event ... KEYS[16] live holds).
ARGV[1] booking id (new)   ARGV[2] user id   ARGV[3] request fingerprint or ''
ARGV[4] admission policy   ARGV[5] section id   ARGV[6] quantity (>= 1)

Returns {status, body}: 201 booking JSON; 404 event_not_found / section_not_found;
409 sold_out (fewer free seats than asked); 409 sales_closed; 422 limit_exceeded;
422 idempotency_mismatch; 429 as hold.lua.

Cost: free:SECTION is a sorted set scored row*10000+number, so the search
never touches sold or held seats. A row is read in chunks of 64 free seats
until a run is found, so a fresh row costs O(log N + quantity); a
fragmented row costs at most O(log N + its free seats). At most MAX_ROWS
rows are tried before falling back to the first free seats of the section
(not adjacent). A 50,000-seat event costs a few set operations per hold,
not a scan of the seat map.
]]
--@include common
--@include seats
--@include admission
--@include holding

local MAX_ROWS = 16

local event, refusal = begin_hold()
if not event then return refusal end

local section, quantity = ARGV[5], tonumber(ARGV[6])
if not string.find(',' .. event.sections, ',' .. section .. ':', 1, true) then
  return hold_fail(404, 'section_not_found', 'no such section in this event')
end
local limit = over_limit(event, quantity)
if limit then return limit end

local free_key = KEYS[11] .. section
if redis.call('ZCARD', free_key) < quantity then
  return hold_fail(409, 'sold_out', 'not enough free seats in section ' .. section)
end

-- Front row first: find the next row that has a free seat, look for a run
-- of `quantity` consecutive numbers in it (read in chunks, so a long row is
-- not read whole when its first seats already do), else try the next row.
local CHUNK = 64
local chosen
local min_score = 0
for _ = 1, MAX_ROWS do
  local first = redis.call('ZRANGEBYSCORE', free_key, min_score, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #first == 0 then break end
  if quantity == 1 then chosen = {first[1]} break end
  local row_low = math.floor(tonumber(first[2]) / 10000) * 10000
  local row_high = row_low + 9999
  if redis.call('ZCOUNT', free_key, row_low, row_high) >= quantity then
    local run, previous, offset = {}, -1, 0
    repeat
      local chunk = redis.call('ZRANGEBYSCORE', free_key, row_low, row_high, 'WITHSCORES', 'LIMIT', offset, CHUNK)
      for i = 1, #chunk, 2 do
        local number = tonumber(chunk[i + 1]) - row_low
        if number ~= previous + 1 then run = {} end
        run[#run + 1] = chunk[i]
        previous = number
        if #run == quantity then chosen = run break end
      end
      offset = offset + CHUNK
    until chosen or #chunk < 2 * CHUNK
  end
  if chosen then break end
  min_score = row_high + 1
end
if not chosen then chosen = redis.call('ZRANGE', free_key, 0, quantity - 1) end

return write_hold(event, chosen, redis.call('HMGET', KEYS[2], unpack(chosen)))
