-- Every metadata record and the version, read together.
--
-- KEYS[1]   the version counter {p}:meta:version
-- KEYS[2]   {p}:meta:budgets
-- KEYS[3]   {p}:meta:keys
--
-- No ARGV.
--
-- Returns {version, {id, json, id, json, ...}, {id, json, ...}}.
assert(#KEYS == 3, 'meta-snapshot: 3 KEYS')
assert(#ARGV == 0, 'meta-snapshot: no ARGV')
return { tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) }
