/**
 * Scripts of the metadata store (src/store/redis-meta.ts): each write and its version bump in one
 * step, so a reader never sees a new record under an old version, or the reverse.
 */

/**
 * Write one record under a precondition, bumping the version.
 *
 * KEYS[1]   the kind's hash {p}:meta:budgets or {p}:meta:keys (field = id, value = JSON)
 * KEYS[2]   the version counter {p}:meta:version
 *
 * ARGV[1]   id
 * ARGV[2]   JSON value
 * ARGV[3]   'create' (only when absent) | 'replace' (only when present)
 *
 * Returns the new version, or 0 when the precondition failed (nothing written).
 */
export const META_PUT_LUA = `
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if (ARGV[3] == 'create' and exists) or (ARGV[3] == 'replace' and not exists) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('INCR', KEYS[2])
`;

/**
 * Delete one record, bumping the version.
 *
 * KEYS[1]   the kind's hash
 * KEYS[2]   the version counter
 *
 * ARGV[1]   id
 *
 * Returns the new version, or 0 when there was no such record.
 */
export const META_REMOVE_LUA = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
return redis.call('INCR', KEYS[2])
`;

/**
 * Every record and the version, read together.
 *
 * KEYS[1]   the version counter
 * KEYS[2]   {p}:meta:budgets
 * KEYS[3]   {p}:meta:keys
 *
 * Returns {version, {id, json, id, json, ...}, {id, json, ...}}.
 */
export const META_SNAPSHOT_LUA = `
return { tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) }
`;
