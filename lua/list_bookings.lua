--[[ list_bookings.lua — one page of an event's bookings (read only):
GET /v1/events/{e}/bookings, a buyer's own or, for the admin, all of them
or those in one status.

KEYS[1] sl:{E}:event      event hash (a page of a missing event is 404)
KEYS[2] sl:{E}:bookings   the list read: bookings (all), bookings:status:S or bookings:user:U (includes/booking_index.lua)
KEYS[3] sl:{E}:booking:   prefix of bookings (booking:B)
ARGV[1] the last member of the previous page, '' for the first page
ARGV[2] page size (1-100)
ARGV[3] a status the page keeps, '' for all (a buyer's list is not split by status)

Returns {200, bookings JSON array, next}: `next` is the page's last member
when more may follow, else ''. A filtered page may hold fewer bookings than
the page size. Cost: one ZRANGE BYLEX (O(log N + page)) and one HGETALL per
member. {404, body} for an event that does not exist.
]]
--@include common
--@include seats

if redis.call('EXISTS', KEYS[1]) == 0 then return {404, error_body('event_not_found', 'no such event')} end
local limit = tonumber(ARGV[2])
local from = ARGV[1] == '' and '-' or '(' .. ARGV[1]
local members = redis.call('ZRANGE', KEYS[2], from, '+', 'BYLEX', 'LIMIT', 0, limit + 1)
local next_member = ''
if #members > limit then
  members[#members] = nil
  next_member = members[#members]
end
local event_id = event_id_of(KEYS[1])
local out = {}
for _, member in ipairs(members) do
  local id = string.match(member, '^%d+:(.+)$')
  local b = read_hash(KEYS[3] .. id)
  if b and (ARGV[3] == '' or b.status == ARGV[3]) then out[#out + 1] = booking_json(event_id, id, b) end
end
return {200, '[' .. table.concat(out, ',') .. ']', next_member}
