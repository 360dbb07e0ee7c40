/**
 * True for exactly one caller per key until it expires: SET NX with an optional TTL.
 *
 * KEYS[1]   claim key {p}:claim:<instance>:<period>:<name>
 *
 * ARGV[1]   TTL, seconds (0: never expires)
 *
 * Returns 1 for the winner, 0 for everyone else.
 */
export const CLAIM_LUA = `
local ttl = tonumber(ARGV[1])
local ok
if ttl > 0 then
  ok = redis.call('SET', KEYS[1], '1', 'NX', 'EX', ttl)
else
  ok = redis.call('SET', KEYS[1], '1', 'NX')
end
if ok then return 1 end
return 0
`;
