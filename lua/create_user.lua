--[[ create_user.lua — register a buyer: the e-mail address is claimed and the
user record written in one call, so two registrations racing for one
address cannot both win.

KEYS[1] sl:{users}:user:U        the new user (hash)
KEYS[2] sl:{users}:email:EMAIL   the claim on the (lowercased) address -> user id
KEYS[3] sl:{users}:rl:ip:ADDR    registrations from this client address (GCRA)
ARGV[1] user id (new)
ARGV[2] e-mail (lowercased)
ARGV[3] name
ARGV[4] phone or ''
ARGV[5] admission policy: only its first two numbers are read, the registration rate and burst per address

Returns {status, body}: 201 {"id","email","name","phone"?,"createdAt"};
409 email_taken; {429, body, retry-after seconds} rate_limited.
]]
--@include common
--@include admission

local policy = parse_policy(ARGV[5])
local now = now_ms()
local refused = rate_limit({{KEYS[3], policy.user_rate, policy.user_burst}}, now)
if refused then return refused end

if redis.call('SET', KEYS[2], ARGV[1], 'NX') == false then
  return {409, error_body('email_taken', 'this e-mail address is already registered')}
end
local fields = {'id', ARGV[1], 'email', ARGV[2], 'name', ARGV[3], 'createdAt', now}
if ARGV[4] ~= '' then
  fields[#fields + 1] = 'phone'
  fields[#fields + 1] = ARGV[4]
end
redis.call('HSET', KEYS[1], unpack(fields))
return {201, '{"id":' .. cjson.encode(ARGV[1]) .. ',"email":' .. cjson.encode(ARGV[2]) .. ',"name":' .. cjson.encode(ARGV[3])
  .. (ARGV[4] ~= '' and (',"phone":' .. cjson.encode(ARGV[4])) or '') .. ',"createdAt":"' .. iso8601(now) .. '"}'}
