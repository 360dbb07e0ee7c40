-- Write one metadata record under a precondition, bumping the version in the same step, so a
-- reader never sees a new record under an old version, or the reverse.
--
-- KEYS[1]   the kind's hash {p}:meta:budgets or {p}:meta:keys (field = id, value = JSON)
-- KEYS[2]   the version counter {p}:meta:version
--
-- ARGV[1]   id
-- ARGV[2]   JSON value
-- ARGV[3]   'create' (only when absent) | 'replace' (only when present)
--
-- Returns the new version, or 0 when the precondition failed (nothing written).
assert(#KEYS == 2, 'meta-put: 2 KEYS')
assert(#ARGV == 3, 'meta-put: 3 ARGV')
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if (ARGV[3] == 'create' and exists) or (ARGV[3] == 'replace' and not exists) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('INCR', KEYS[2])
