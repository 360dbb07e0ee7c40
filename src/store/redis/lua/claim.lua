-- True for exactly one caller per key until the claim expires. The expiry is kept by the gateway's
-- clock (the value is the expiry in ms, 0 = never), so tests and instances agree on it; the key's
-- own TTL only drops it from memory once it has expired for certain.
--
-- KEYS[1]   claim key {p}:claim:<instance>:<period>:<name>
--
-- ARGV[1]   now, ms (the gateway's clock)
-- ARGV[2]   TTL, seconds (0: never expires)
--
-- Returns 1 for the winner, 0 for everyone else.
assert(#KEYS == 1, 'claim: 1 KEYS')
assert(#ARGV == 2, 'claim: 2 ARGV')
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local held = redis.call('GET', KEYS[1])
if held and (tonumber(held) == 0 or tonumber(held) > now) then return 0 end
if ttl > 0 then
  redis.call('SET', KEYS[1], string.format('%d', now + ttl * 1000), 'EX', ttl)
else
  redis.call('SET', KEYS[1], '0')
end
return 1
