-- Writes one recorder batch (rollups and ledger entries of one or more hours) atomically, once:
-- a retried batch whose first attempt did run (the reply was lost) changes nothing.
--
-- KEYS[1]   batch marker {p}:hist:batch:<batchId>         (SET NX, expires after an hour)
-- KEYS[2]   rollup hours index {p}:hist:roll-hours         (sorted set hourMs -> hourMs)
-- KEYS[3]   ledger hours index {p}:hist:ledger-hours       (sorted set hourMs -> hourMs)
-- KEYS[4 .. 3+R]       rollup hash of each hour {p}:hist:roll:<hourMs>
-- KEYS[4+R .. 3+R+L]   ledger list of each hour {p}:hist:ledger:<hourMs>
--
-- ARGV[1]   R, the number of rollup hours
-- ARGV[2]   L, the number of ledger hours
-- then, per rollup hour:  hourMs, expireAtMs, n, then n pairs (field = JSON dims, "c1,c2,...,c8" to add)
-- then, per ledger hour:  hourMs, expireAtMs, n, then n entries (JSON arrays, appended in order)
--
-- Counters are added as doubles and written with %.0f: exact for integers below 2^53, which money
-- in nano-USD (9e6 USD) and token counts stay under per hour and dimension combination.
--
-- Returns 1 when written, 0 when the batch had been written before.
assert(#KEYS >= 3 and #ARGV >= 2, 'history-write: 3 KEYS and 2 ARGV at least')
assert(#KEYS == 3 + tonumber(ARGV[1]) + tonumber(ARGV[2]), 'history-write: 3 KEYS, then one per hour')
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', 3600000) then return 0 end
local rollupHours = tonumber(ARGV[1])
local ledgerHours = tonumber(ARGV[2])
local a = 3
local k = 4
for h = 1, rollupHours do
  local key = KEYS[k]
  local hour = ARGV[a]
  local expireAt = ARGV[a + 1]
  local n = tonumber(ARGV[a + 2])
  a = a + 3
  for i = 1, n do
    local field = ARGV[a]
    local sums = {}
    local j = 1
    for v in string.gmatch(ARGV[a + 1], '[^,]+') do
      sums[j] = tonumber(v)
      j = j + 1
    end
    local current = redis.call('HGET', key, field)
    if current then
      j = 1
      for v in string.gmatch(current, '[^,]+') do
        sums[j] = (sums[j] or 0) + tonumber(v)
        j = j + 1
      end
    end
    for m = 1, #sums do sums[m] = string.format('%.0f', sums[m]) end
    redis.call('HSET', key, field, table.concat(sums, ','))
    a = a + 2
  end
  redis.call('PEXPIREAT', key, expireAt)
  redis.call('ZADD', KEYS[2], hour, hour)
  k = k + 1
end
for h = 1, ledgerHours do
  local key = KEYS[k]
  local hour = ARGV[a]
  local expireAt = ARGV[a + 1]
  local n = tonumber(ARGV[a + 2])
  a = a + 3
  for i = 1, n do
    redis.call('RPUSH', key, ARGV[a])
    a = a + 1
  end
  redis.call('PEXPIREAT', key, expireAt)
  redis.call('ZADD', KEYS[3], hour, hour)
  k = k + 1
end
return 1
