--[[ update_event.lua — an organizer changes an event (PATCH /v1/events/{e},
and the operator tool scripts/ops/sales): name, venue, startsAt, sales
open/closed, and section prices while nothing is held or sold.

KEYS[1] sl:{E}:event   event hash
KEYS[2] sl:{E}:log     the event's log stream
KEYS[3] sl:{E}:seats   seat id -> price in cents (a section's new price)
ARGV[1] actor: admin | operator
ARGV[2..] field, value pairs (checked by the caller): name, venue, startsAt
        (ISO 8601), status (open | closed), price:SECTION (cents), and
        rows:SECTION / seatsPerRow:SECTION (must be as they are)

Returns {status, body}: 200 event JSON (also when nothing changed: nothing
is then logged); 404 event_not_found; 409 event_cancelled (a cancelled event
is final); 409 seat_map_fixed (a section the event does not have, or other
rows or seats per row: the seat map itself never changes); 409 event_has_sales (a price change while seats
are held or sold: the buyers' totals were made at the old price). Checks
everything before it writes anything. A sales change logs
event.sales_opened / event.sales_closed (actor); every other change
event.updated (fields, actor). While closed, holds get 409 sales_closed;
payments and expiries of existing bookings go on.
]]
--@include common
--@include seats

local e = read_hash(KEYS[1])
if not e then return {404, error_body('event_not_found', 'no such event')} end
if e.status == 'cancelled' then return {409, error_body('event_cancelled', 'this event was cancelled; nothing changes it')} end

local sections, by_id = event_sections(e.sections), {}
for _, s in ipairs(sections) do by_id[s.id] = s end

local fields, changed, prices, sales = {}, {}, {}, nil
for i = 2, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  local kind, of = string.match(field, '^(%a+):(.+)$') -- price:A, rows:A, seatsPerRow:A
  local s = of and by_id[of]
  if of and not s then
    return {409, error_body('seat_map_fixed', 'the event has no section ' .. of .. '; its seat map is fixed at creation',
      ',"reason":"unknown_section","section":' .. cjson.encode(of))}
  elseif (kind == 'rows' and s.rows ~= value) or (kind == 'seatsPerRow' and s.per_row ~= value) then
    return {409, error_body('seat_map_fixed', 'section ' .. of .. ' has its rows and seats per row for good; create another event for another map',
      ',"reason":"layout_change","section":' .. cjson.encode(of))}
  elseif kind == 'price' then
    if s.price ~= value then prices[#prices + 1] = {s, value} end
  elseif kind then
    -- (rows or seatsPerRow as they are: no change)
  elseif field == 'status' then
    if value ~= e.status then sales = value end
  elseif e[field] ~= value then
    fields[#fields + 1] = field
    fields[#fields + 1] = value
    changed[#changed + 1] = field
  end
end

if #prices > 0 and (tonumber(e.held or 0) > 0 or tonumber(e.sold or 0) > 0) then
  return {409, error_body('event_has_sales', 'section prices change only while no seat is held or sold',
    ',"reason":' .. cjson.encode(e.held .. ' seats held and ' .. e.sold .. ' sold at the current prices'))}
end

local now = now_ms()
for _, change in ipairs(prices) do
  local s, price = change[1], change[2]
  s.price = price
  add_rows(KEYS[3], nil, s.id, 1, tonumber(s.rows), tonumber(s.per_row), price) -- (the seat map hash only: no seat's state changes)
  changed[#changed + 1] = 'price:' .. s.id
end
if #prices > 0 then
  local stored = {}
  for i, s in ipairs(sections) do stored[i] = s.id .. ':' .. s.rows .. ':' .. s.per_row .. ':' .. s.price end
  fields[#fields + 1] = 'sections'
  fields[#fields + 1] = table.concat(stored, ',')
end
if #fields > 0 then
  redis.call('HSET', KEYS[1], unpack(fields))
  log_event(KEYS[2], 'event.updated', event_id_of(KEYS[1]), now, {'fields', table.concat(changed, ','), 'actor', ARGV[1]})
end
if sales then
  redis.call('HSET', KEYS[1], 'status', sales)
  log_event(KEYS[2], sales == 'open' and 'event.sales_opened' or 'event.sales_closed', event_id_of(KEYS[1]), now, {'actor', ARGV[1]})
end
return {200, event_json(read_hash(KEYS[1]))}
