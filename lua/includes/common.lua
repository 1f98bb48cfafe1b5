-- common.lua: helpers every Seatlock script shares (time, ISO 8601, replies,
-- idempotency records, the event log). Included with `--@include common`.

-- Server time in ms since the epoch: every process agrees on deadlines.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- ms since epoch -> "2026-11-25T14:40:08.123Z" (days-to-civil, proleptic Gregorian).
local function iso8601(ms)
  ms = tonumber(ms)
  local secs = math.floor(ms / 1000)
  local millis = ms - secs * 1000
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
    math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60, millis)
end

local function event_id_of(key)
  return string.match(key, '^sl:{(.-)}:')
end

-- HGETALL as a table, or nil when the hash does not exist.
local function read_hash(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function split_commas(text)
  local out = {}
  for item in string.gmatch(text or '', '[^,]+') do out[#out + 1] = item end
  return out
end

-- Appends one domain event to the event's log stream (fields: flat list).
local function log_event(log_key, event_type, event_id, now, fields)
  return redis.call('XADD', log_key, '*', 'type', event_type, 'eventId', event_id, 'at', now, unpack(fields))
end

-- Idempotency: a request carries a fingerprint ('' when it has no key).
-- Returns the recorded reply for a replay, a 422 for a reused key with a
-- different request, or nil for a new request.
local function idem_replay(key, fingerprint)
  if fingerprint == '' then return nil end
  local stored = redis.call('GET', key)
  if not stored then return nil end
  local record = cjson.decode(stored)
  if record.fingerprint ~= fingerprint then
    return {422, '{"error":"idempotency_mismatch","message":"this Idempotency-Key was already used for a different request"}'}
  end
  return {tonumber(record.status), record.body}
end

-- Every reply goes through here so that the idempotency record is written
-- by the same call that made the change (kept 24 h).
local function respond(idem_key, fingerprint, status, body)
  if fingerprint ~= '' then
    redis.call('SET', idem_key, cjson.encode({fingerprint = fingerprint, status = status, body = body}), 'EX', 86400)
  end
  return {status, body}
end

local function error_body(code, message, extra)
  return '{"error":' .. cjson.encode(code) .. ',"message":' .. cjson.encode(message) .. (extra or '') .. '}'
end

local function json_list(items)
  local out = {}
  for i, item in ipairs(items) do out[i] = cjson.encode(item) end
  return '[' .. table.concat(out, ',') .. ']'
end
