-- admission.lua: may this buyer, from this address, make a hold or a
-- payment request right now? Rate limits (GCRA), the cap on a buyer's live
-- holds and the cap on their idempotency keys. Included after common.
--
-- The policy is one ARGV entry of space-separated numbers (rates per
-- second, 0 turns a limit off):
--   userRate userBurst ipRate ipBurst eventRate eventBurst maxLiveHolds maxIdempotencyKeys
-- A refusal here is never recorded as the idempotent answer: it says
-- "not now", and the same request may succeed later.

local function parse_policy(text)
  local n = {}
  for item in string.gmatch(text, '%S+') do n[#n + 1] = tonumber(item) or 0 end
  return {user_rate = n[1] or 0, user_burst = n[2] or 0, ip_rate = n[3] or 0, ip_burst = n[4] or 0,
          event_rate = n[5] or 0, event_burst = n[6] or 0, max_live_holds = n[7] or 0, max_idem_keys = n[8] or 0}
end

local function too_many(code, message, wait_ms)
  local seconds = math.max(1, math.ceil(wait_ms / 1000))
  return {429, error_body(code, message, ',"retryAfterSeconds":' .. seconds), seconds}
end

-- GCRA keeps one number per subject: the theoretical arrival time (TAT) of
-- its next request, in ms. `burst` requests may arrive at once; after that
-- one every 1000/rate ms. Returns true and the new TAT, or false and the
-- ms to wait.
local function gcra(key, rate, burst, now)
  local interval = 1000 / rate
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local allowed_from = tat + interval - burst * interval
  if allowed_from > now then return false, allowed_from - now end
  return true, tat + interval
end

-- `limits`: list of {key, rate, burst}. Every limit is checked before any is
-- written, so a request refused by one does not use up the others. Returns
-- nil and the writes that spend the budget (rate_spend), or the 429 reply.
-- Reads only: a caller that refuses for another reason afterwards (seat
-- taken, sold out) spends nothing.
local function rate_check(limits, now)
  local updates, wait = {}, 0
  for _, limit in ipairs(limits) do
    local key, rate, burst = limit[1], limit[2], limit[3]
    if rate > 0 and burst > 0 then
      local ok, value = gcra(key, rate, burst, now)
      if ok then updates[#updates + 1] = {key, value} else wait = math.max(wait, value) end
    end
  end
  if wait > 0 then return nil, too_many('rate_limited', 'too many requests; slow down', wait) end
  return updates
end

local function rate_spend(updates, now)
  for _, update in ipairs(updates) do
    redis.call('SET', update[1], string.format('%.3f', update[2]), 'PX', math.ceil(update[2] - now) + 1)
  end
end

-- rate_check and rate_spend at once: nil when admitted, else the 429 reply.
local function rate_limit(limits, now)
  local updates, refused = rate_check(limits, now)
  if refused then return refused end
  rate_spend(updates, now)
  return nil
end

-- A new Idempotency-Key costs a stored record for 24 h: at most `max` new
-- keys per buyer per event in a 24 h window. Call after the replay check.
local function idempotency_cap(count_key, fingerprint, max)
  if max <= 0 or fingerprint == '' then return nil end
  local used = tonumber(redis.call('GET', count_key) or '0')
  if used >= max then
    local ttl = redis.call('PTTL', count_key)
    return too_many('too_many_idempotency_keys', 'at most ' .. max .. ' Idempotency-Keys per buyer per event in 24 h',
      ttl > 0 and ttl or 86400000)
  end
  redis.call('INCR', count_key)
  redis.call('EXPIRE', count_key, 86400, 'NX')
  return nil
end

-- Live holds (held or payment_pending) are a sorted set booking id -> hold
-- deadline, so an entry whose end was missed still leaves at its deadline
-- (counted out here; it leaves with the set, whose TTL is its longest hold).
-- Returns the number of live holds. Reads only.
local function live_holds(live_key, now)
  return redis.call('ZCOUNT', live_key, '(' .. now, '+inf')
end
