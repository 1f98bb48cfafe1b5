-- seats.lua: seat ids (SECTION-ROW-NUMBER), free-seat sets and the booking
-- JSON. Included with `--@include seats` (after common).

-- A free set's score orders seats front row first, then by number.
local function seat_parts(seat)
  local section, row, number = string.match(seat, '^(.+)-(%d+)-(%d+)$')
  return section, tonumber(row), tonumber(number)
end

-- Seats by section: the sections in first-seen order, and section -> its seats.
local function by_section(seats)
  local order, groups = {}, {}
  for _, seat in ipairs(seats) do
    local section = seat_parts(seat)
    if not groups[section] then groups[section] = {}; order[#order + 1] = section end
    table.insert(groups[section], seat)
  end
  return order, groups
end

local function seat_score(row, number)
  return row * 10000 + number
end

-- Writes rows `first`..`last` of section `id` (`per_row` seats each, every
-- seat at `price`): into the seat map hash and, free, into the section's
-- free set (none when `free_prefix` is nil: a new price only). In batches:
-- Lua's unpack() cannot take 50,000 arguments.
local function add_rows(seats_key, free_prefix, id, first, last, per_row, price)
  local prices, free = {}, {}
  local function flush()
    if #prices == 0 then return end
    redis.call('HSET', seats_key, unpack(prices))
    if free_prefix then redis.call('ZADD', free_prefix .. id, unpack(free)) end
    prices, free = {}, {}
  end
  for row = first, last do
    for number = 1, per_row do
      local seat = id .. '-' .. row .. '-' .. number
      prices[#prices + 1] = seat
      prices[#prices + 1] = price
      free[#free + 1] = seat_score(row, number)
      free[#free + 1] = seat
      if #prices >= 1000 then flush() end
    end
  end
  flush()
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
-- ',"queue":{...}' for a queued event's settings ('opensAtMs rate seconds'), else ''.
local function queue_json(spec)
  if not spec then return '' end
  local opens, rate, admission = string.match(spec, '^(%d+) (%d+) (%d+)$')
  return ',"queue":{"opensAt":' .. cjson.encode(iso8601(opens)) .. ',"admitPerSecond":' .. rate .. ',"admissionSeconds":' .. admission .. '}'
end

-- The event hash's `sections` ('id:rows:perRow:price,...') as a list of
-- {id, rows, per_row, price} (numbers as text, as stored), in order.
local function event_sections(text)
  local sections = {}
  for _, s in ipairs(split_commas(text)) do
    local id, rows, per_row, price = string.match(s, '^(.-):(%d+):(%d+):(%d+)$')
    sections[#sections + 1] = {id = id, rows = rows, per_row = per_row, price = price}
  end
  return sections
end

local function event_json(e)
  local sections = {}
  for i, s in ipairs(event_sections(e.sections)) do
    sections[i] = '{"id":' .. cjson.encode(s.id) .. ',"rows":' .. s.rows .. ',"seatsPerRow":' .. s.per_row .. ',"priceCents":' .. s.price .. '}'
  end
  local capacity, held, sold = tonumber(e.capacity), tonumber(e.held or 0), tonumber(e.sold or 0)
  return '{"id":' .. cjson.encode(e.id) .. ',"name":' .. cjson.encode(e.name) .. ',"venue":' .. cjson.encode(e.venue)
    .. ',"startsAt":' .. cjson.encode(e.startsAt) .. ',"status":' .. cjson.encode(e.status)
    .. ',"holdSeconds":' .. e.holdSeconds .. ',"maxSeatsPerUser":' .. e.maxSeatsPerUser
    .. ',"sections":[' .. table.concat(sections, ',') .. ']'
    .. ',"capacity":' .. capacity .. ',"available":' .. (capacity - held - sold)
    .. ',"held":' .. held .. ',"sold":' .. sold .. ',"revenueCents":' .. tonumber(e.revenueCents or 0) .. queue_json(e.queue)
    .. (e.cancelledAt and ',"cancelledAt":' .. cjson.encode(iso8601(e.cancelledAt)) or '') .. '}'
end
