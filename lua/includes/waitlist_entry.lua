-- waitlist_entry.lua: a waitlist entry as JSON. Included after common.
-- `booking_status` (optional) is the offer's booking status: an offer that
-- was paid reads 'purchased'.

local function entry_json(w, booking_status)
  local status = w.status
  if status == 'offered' and (booking_status == 'confirmed' or booking_status == 'refund_pending' or booking_status == 'refunded') then
    status = 'purchased'
  end
  local out = '{"id":' .. cjson.encode(w.id) .. ',"status":' .. cjson.encode(status) .. ',"position":' .. w.position
    .. ',"quantity":' .. w.quantity
  if w.section ~= '' then out = out .. ',"section":' .. cjson.encode(w.section) end
  if w.bookingId then
    out = out .. ',"bookingId":' .. cjson.encode(w.bookingId) .. ',"offerExpiresAt":' .. cjson.encode(iso8601(w.offerExpiresAt))
  end
  return out .. ',"joinedAt":' .. cjson.encode(iso8601(w.joinedAt)) .. '}'
end
