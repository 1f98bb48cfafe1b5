--[[ pay.lua — a buyer asks to pay for a held booking: held -> payment_pending.

The hold is extended to now + grace (never shortened), so a buyer who pays
in the last second is not cut off while the provider answers; the grace is
granted once, since only a `held` booking may ask.

KEYS[1]  sl:{E}:booking:B       the booking
KEYS[2]  sl:{E}:expiry:B        the booking's hold timer
KEYS[3]  sl:{E}:expiries        booking id by deadline, for the sweeper
KEYS[4]  sl:{E}:log             the event's log stream
KEYS[5]  sl:{E}:idem:CALLER:K   idempotency record, CALLER u_U or admin (sl:{E}:idem:-, unused, when ARGV[4] is '')
KEYS[6]  sl:{E}:hold:           prefix of the seat hold keys (hold:SEAT)
KEYS[7]  sl:{E}:rl:user:U       the caller's rate limit (GCRA)
KEYS[8]  sl:{E}:rl:ip:ADDR      the client address's rate limit
KEYS[9]  sl:{E}:idemkeys:u_U    Idempotency-Keys the caller used in 24 h
KEYS[10] sl:{E}:user:U:live     the caller's live holds
KEYS[11] sl:{E}:bookings        the booking lists (includes/booking_index.lua)
KEYS[12] sl:{E}:event           event hash (a cancelled event takes no payment)
ARGV[1] caller's user id ('' = any owner)
ARGV[2] payment token
ARGV[3] grace in ms
ARGV[4] request fingerprint or ''
ARGV[5] admission policy (includes/admission.lua; the event admission rate is not used)

Returns {status, body}: 202 booking JSON (payment_pending); 404 booking_not_found;
409 hold_expired (deadline passed, or a seat's hold is gone); 409 invalid_state; 409 event_cancelled;
422 idempotency_mismatch; {429, body, retry-after seconds} rate_limited /
too_many_idempotency_keys (not recorded). Appends payment.requested for the
payments group.
]]
--@include common
--@include seats
--@include admission
--@include booking_index

-- Nothing is written for a booking that does not exist or is not the
-- caller's (made-up ids must not mint rate-limit budgets or records).
local b = read_hash(KEYS[1])
if not b or (ARGV[1] ~= '' and b.userId ~= ARGV[1]) then
  return {404, error_body('booking_not_found', 'no such booking')}
end
local policy = parse_policy(ARGV[5])
local refused = rate_limit({{KEYS[7], policy.user_rate, policy.user_burst}, {KEYS[8], policy.ip_rate, policy.ip_burst}}, now_ms())
if refused then return refused end
local replay = idem_replay(KEYS[5], ARGV[4])
if replay then return replay end
refused = idempotency_cap(KEYS[9], ARGV[4], policy.max_idem_keys)
if refused then return refused end
local function refuse(status, code, message)
  return respond(KEYS[5], ARGV[4], status, error_body(code, message))
end

if redis.call('HGET', KEYS[12], 'status') == 'cancelled' then
  return refuse(409, 'event_cancelled', 'this event was cancelled; nothing is charged')
end
if b.status == 'expired' then return refuse(409, 'hold_expired', 'the hold on these seats has expired') end
if b.status ~= 'held' then return refuse(409, 'invalid_state', 'the booking is ' .. b.status .. ', not held') end

local now = now_ms()
local seats = split_commas(b.seats)
if now >= tonumber(b.expiresAt) or not holds_owned(KEYS[6], b.id, seats) then
  return refuse(409, 'hold_expired', 'the hold on these seats has expired')
end

local deadline = math.max(tonumber(b.expiresAt), now + tonumber(ARGV[3]))
for _, seat in ipairs(seats) do redis.call('PEXPIREAT', KEYS[6] .. seat, deadline) end
redis.call('SET', KEYS[2], b.id, 'PXAT', deadline)
redis.call('ZADD', KEYS[3], deadline, b.id)
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[10], 'XX', deadline, b.id)
  redis.call('PEXPIREAT', KEYS[10], deadline, 'GT')
end
index_status(KEYS[11], b, 'held', 'payment_pending')
redis.call('HSET', KEYS[1], 'status', 'payment_pending', 'expiresAt', deadline, 'paymentRequestedAt', now)
b.status, b.expiresAt = 'payment_pending', deadline
local event_id = event_id_of(KEYS[1])
log_event(KEYS[4], 'payment.requested', event_id, now, {'bookingId', b.id, 'userId', b.userId,
  'amountCents', b.totalCents, 'paymentToken', ARGV[2], 'attempt', 1})
return respond(KEYS[5], ARGV[4], 202, booking_json(event_id, b.id, b))
