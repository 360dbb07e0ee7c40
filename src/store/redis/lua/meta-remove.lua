-- Delete one metadata record, bumping the version in the same step.
--
-- KEYS[1]   the kind's hash {p}:meta:budgets or {p}:meta:keys
-- KEYS[2]   the version counter {p}:meta:version
--
-- ARGV[1]   id
--
-- Returns the new version, or 0 when there was no such record.
assert(#KEYS == 2, 'meta-remove: 2 KEYS')
assert(#ARGV == 1, 'meta-remove: 1 ARGV')
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
return redis.call('INCR', KEYS[2])
