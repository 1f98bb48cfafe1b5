-- seats.lua: seat ids (SECTION-ROW-NUMBER), free-seat sets and the booking
-- JSON. Included with `--@include seats` (after common).

-- A free set's score orders seats front row first, then by number.
local function seat_parts(seat)
  local section, row, number = string.match(seat, '^(.+)-(%d+)-(%d+)$')
  return section, tonumber(row), tonumber(number)
end

local function seat_score(row, number)
  return row * 10000 + number
end

-- Which rows of a section still have a run of N free seats, so that best
-- available finds adjacent seats wherever they are, at a bounded cost: a
-- segment tree over the rows, in the hash `sl:{E}:free:SECTION:runs`
-- (derived from the free prefix; section ids have no ':'). Field `size` is
-- the tree's width (a power of two >= rows); field `size + row - 1` is that
-- row's longest run of consecutive free numbers, and each field below
-- `size` the largest value under it (field 1: the whole section). Finding
-- the front-most row with a run >= N reads O(log rows) fields; a changed
-- row costs one read of that row's free seats and O(log rows) writes. The
-- free set stays the truth: an event created before the tree existed gets
-- it built from the free set on its first best-available hold.

local function runs_key(free_prefix, section) return free_prefix .. section .. ':runs' end

-- The longest run of consecutive free seat numbers in `row`: O(free seats of the row).
local function longest_run(free_key, row)
  local low = seat_score(row, 0)
  local scores = redis.call('ZRANGEBYSCORE', free_key, low, low + 9999, 'WITHSCORES')
  local best, run, previous = 0, 0, -1
  for i = 2, #scores, 2 do
    local number = tonumber(scores[i]) - low
    if number == previous + 1 then run = run + 1 else run = 1 end
    previous = number
    if run > best then best = run end
  end
  return best
end

-- (Re)builds the tree of `section` from its free set; returns its size.
local function build_runs(free_prefix, section, rows)
  local key, free_key = runs_key(free_prefix, section), free_prefix .. section
  local size = 1
  while size < rows do size = size * 2 end
  local values = {}
  for node = 1, 2 * size - 1 do values[node] = 0 end
  for row = 1, rows do values[size + row - 1] = longest_run(free_key, row) end
  for node = size - 1, 1, -1 do values[node] = math.max(values[2 * node], values[2 * node + 1]) end
  local fields = {'size', size}
  for node = 1, 2 * size - 1 do
    fields[#fields + 1] = node
    fields[#fields + 1] = values[node]
  end
  redis.call('DEL', key)
  redis.call('HSET', key, unpack(fields))
  return size
end

-- After seats of these rows became free or taken: each row's new longest
-- run, carried up the tree until an ancestor does not change. Sections
-- without a tree (built lazily) are skipped.
local function update_runs(free_prefix, seats)
  local rows = {}
  for _, seat in ipairs(seats) do
    local section, row = seat_parts(seat)
    rows[section .. '-' .. row] = {section, row}
  end
  for _, place in pairs(rows) do
    local section, row = place[1], place[2]
    local key = runs_key(free_prefix, section)
    local size = tonumber(redis.call('HGET', key, 'size'))
    if size then
      local node, value = size + row - 1, longest_run(free_prefix .. section, row)
      redis.call('HSET', key, node, value)
      while node > 1 do
        local sibling = node % 2 == 0 and node + 1 or node - 1
        local parent = math.floor(node / 2)
        value = math.max(value, tonumber(redis.call('HGET', key, sibling)) or 0)
        if tonumber(redis.call('HGET', key, parent)) == value then break end
        redis.call('HSET', key, parent, value)
        node = parent
      end
    end
  end
end

-- The front-most row of `section` with at least `n` consecutive free seats, or nil.
local function front_row_with_run(free_prefix, section, rows, n)
  local key = runs_key(free_prefix, section)
  local size = tonumber(redis.call('HGET', key, 'size')) or build_runs(free_prefix, section, rows)
  if (tonumber(redis.call('HGET', key, 1)) or 0) < n then return nil end
  local node = 1
  while node < size do
    node = 2 * node
    if (tonumber(redis.call('HGET', key, node)) or 0) < n then node = node + 1 end
  end
  return node - size + 1
end

-- Gives back the seats of `booking_id`: deletes the holds it still owns and
-- returns to their section's free set the seats nobody else holds or bought.
-- A hold key owned by another booking is never touched.
-- Returns the seats that became free.
local function release_seats(hold_prefix, free_prefix, sold_key, booking_id, seats)
  local released = {}
  for _, seat in ipairs(seats) do
    local owner = redis.call('GET', hold_prefix .. seat)
    if owner == booking_id then redis.call('DEL', hold_prefix .. seat) end
    if (owner == booking_id or not owner) and redis.call('HGET', sold_key, seat) == false then
      local section, row, number = seat_parts(seat)
      redis.call('ZADD', free_prefix .. section, seat_score(row, number), seat)
      released[#released + 1] = seat
    end
  end
  update_runs(free_prefix, released)
  return released
end

-- True when every seat's hold key still names `booking_id`.
local function holds_owned(hold_prefix, booking_id, seats)
  for _, seat in ipairs(seats) do
    if redis.call('GET', hold_prefix .. seat) ~= booking_id then return false end
  end
  return true
end

-- The booking's JSON. Field order is fixed, so a replayed reply is the same bytes.
local function booking_json(event_id, booking_id, b)
  local out = '{"id":' .. cjson.encode(booking_id) .. ',"eventId":' .. cjson.encode(event_id)
    .. ',"userId":' .. cjson.encode(b.userId) .. ',"status":' .. cjson.encode(b.status)
    .. ',"seats":' .. json_list(split_commas(b.seats)) .. ',"totalCents":' .. tostring(tonumber(b.totalCents))
    .. ',"expiresAt":' .. cjson.encode(iso8601(b.expiresAt)) .. ',"createdAt":' .. cjson.encode(iso8601(b.createdAt))
  if b.confirmationCode then out = out .. ',"confirmationCode":' .. cjson.encode(b.confirmationCode) end
  return out .. '}'
end

-- The event's JSON with live counts (counters kept by the scripts).
local function event_json(e)
  local sections = {}
  for _, s in ipairs(split_commas(e.sections)) do
    local id, rows, per_row, price = string.match(s, '^(.-):(%d+):(%d+):(%d+)$')
    sections[#sections + 1] = '{"id":' .. cjson.encode(id) .. ',"rows":' .. rows .. ',"seatsPerRow":' .. per_row .. ',"priceCents":' .. price .. '}'
  end
  local capacity, held, sold = tonumber(e.capacity), tonumber(e.held or 0), tonumber(e.sold or 0)
  return '{"id":' .. cjson.encode(e.id) .. ',"name":' .. cjson.encode(e.name) .. ',"venue":' .. cjson.encode(e.venue)
    .. ',"startsAt":' .. cjson.encode(e.startsAt) .. ',"status":' .. cjson.encode(e.status)
    .. ',"holdSeconds":' .. e.holdSeconds .. ',"maxSeatsPerUser":' .. e.maxSeatsPerUser
    .. ',"sections":[' .. table.concat(sections, ',') .. ']'
    .. ',"capacity":' .. capacity .. ',"available":' .. (capacity - held - sold)
    .. ',"held":' .. held .. ',"sold":' .. sold .. ',"revenueCents":' .. tonumber(e.revenueCents or 0) .. '}'
end
