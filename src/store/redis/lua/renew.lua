-- The lease heartbeat (src/budget/leases.ts): renew the leases of an instance's live reservations,
-- all of them in one call. A reservation that is gone (settled, released, reaped) is not brought
-- back: its id is returned so the instance knows. The reservation hashes are not in KEYS, but every
-- key shares the {p} hash tag, so they live in this script's slot (as in reap.lua).
--
-- KEYS[1]   lease index {p}:leases
--
-- ARGV[1]   now, ms
-- ARGV[2]   the leases' new expiry, ms
-- ARGV[3]   reservation key prefix {p}:res:
-- ARGV[4..] reservation ids
--
-- Returns the ids that are gone, in request order.
assert(#KEYS == 1, 'renew: 1 KEYS')
assert(#ARGV >= 3, 'renew: 3 ARGV, then the ids')
local now, exp, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
-- A limit hash must outlive the slots held in it (limits.lua lim_apply): the same rule, renewed.
local limit_ttl = math.max(exp - now, 0) + LIM_WINDOW_MS + LIM_BUCKET_MS
local gone = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local key = prefix .. id
  local r = redis.call('HMGET', key, 'amount', 'limits')
  if not r[1] then
    table.insert(gone, id)
  else
    redis.call('HSET', key, 'exp', int(exp))
    redis.call('ZADD', KEYS[1], int(exp), id)
    if r[2] then
      for _, h in ipairs(cjson.decode(r[2])) do
        if redis.call('PTTL', h[1]) < limit_ttl then redis.call('PEXPIRE', h[1], int(limit_ttl)) end
      end
    end
  end
end
return gone
