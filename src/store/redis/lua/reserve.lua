-- Reserve on every line or on none, in two passes (Sentry Relay's is_rate_limited.lua shape):
-- reap a few expired leases, touch every line (first touch fixes the period's rollover), decide on
-- all lines (the mirror of src/budget/reserve-decision.ts decideReserve), and only if all agree
-- apply the same amount to all of them.
--
-- KEYS[1]       reservation hash {p}:res:<id>
-- KEYS[2]       lease index, sorted set {p}:leases (member id, score lease expiry ms)
-- then for each line i = 0..n-1:
-- KEYS[3+3i]    the line's counters {p}:line:<instance>:<period>
-- KEYS[4+3i]    the previous period's counters (rollover source), or the {p}:none placeholder
-- KEYS[5+3i]    the budget's instance set {p}:inst:<budgetId>:<period>, or {p}:none
--
-- ARGV[1]       reservation id (the lease member)
-- ARGV[2]       now, ms (the gateway's clock, so tests control it)
-- ARGV[3]       this reservation's lease expiry, ms
-- ARGV[4]       fixed cost, pico-USD (prompt etc.)
-- ARGV[5]       output price, pico-USD per token
-- ARGV[6]       requested output cap, tokens
-- ARGV[7]       lowest output cap fit-to-budget may grant
-- ARGV[8]       reservation key prefix {p}:res: (reaped reservations' keys are built from it)
-- then for each line i:
-- ARGV[9+5i]    base limit, nano-USD
-- ARGV[10+5i]   rollover cap, nano-USD (0: no rollover)
-- ARGV[11+5i]   downgrade threshold on committed nano-USD (-1: none)
-- ARGV[12+5i]   counters TTL, seconds (0: none)
-- ARGV[13+5i]   template instance to record in the instance set ('' for none)
--
-- then the limits section (limits.lua): L limit keys; ARGV prompt tokens, tokens per cap,
-- 3 per limit, and L last.
--
-- Returns {status, capOrLineIndex, amount, expiredSettled, limit1, spent1, reserved1, ...}:
-- status 'reserved' (second field the granted cap), 'rejected' or 'downgrade' (the 0-based index
-- of the line that decided it; amount 0); 'reserved' then has 5 use fields per limit (limits.lua
-- lim_push_use); 'limited' has the limit index, amount = retry-after ms, the balances, the uses,
-- then kind and tooLarge (0/1).
local n_limits = tonumber(ARGV[#ARGV])
assert(#KEYS >= 2 + n_limits and (#KEYS - 2 - n_limits) % 3 == 0, 'reserve: 2 KEYS, 3 per line, 1 per limit')
local n = (#KEYS - 2 - n_limits) / 3
assert(#ARGV == 8 + 5 * n + 3 + 3 * n_limits, 'reserve: 8 ARGV, 5 per line, 3 + 3 per limit')

local res_key, leases_key = KEYS[1], KEYS[2]
local id = ARGV[1]
local now, lease_exp = tonumber(ARGV[2]), tonumber(ARGV[3])
local fixed, output = tonumber(ARGV[4]), tonumber(ARGV[5])
local requested, min_cap = tonumber(ARGV[6]), tonumber(ARGV[7])

local expired = reap(leases_key, ARGV[8], now, 16)

local specs, counters = {}, {}
for i = 0, n - 1 do
  local s = {
    key = KEYS[3 + 3 * i], prev = KEYS[4 + 3 * i], inst_key = KEYS[5 + 3 * i],
    limit = tonumber(ARGV[9 + 5 * i]), roll_max = tonumber(ARGV[10 + 5 * i]),
    downgrade_at = tonumber(ARGV[11 + 5 * i]), ttl = tonumber(ARGV[12 + 5 * i]),
    instance = ARGV[13 + 5 * i],
  }
  specs[i + 1] = s
  counters[i + 1] = touch_line(s.key, s.prev, s.limit, s.roll_max, s.ttl)
end

local limits = lim_specs(2 + 3 * n, 8 + 5 * n, n_limits, now)

local function reply(status, second, amount, uses)
  local out = { status, second, amount, expired }
  for i = 1, n do push_balance(out, specs[i].limit, counters[i]) end
  if uses then for i = 1, n_limits do lim_push_use(out, limits[i].st, now) end end
  return out
end

-- A retry of a reservation already made answers the same, without reserving twice.
local existing = redis.call('HMGET', res_key, 'amount', 'cap')
if existing[1] then return reply('reserved', tonumber(existing[2]), tonumber(existing[1]), true) end

-- Pass 1: check every line. A downgrade anywhere wins over a rejection (the cheaper model may fit).
for i = 1, n do
  local s, c = specs[i], counters[i]
  if s.downgrade_at >= 0 and c[1] + c[2] >= s.downgrade_at then return reply('downgrade', i - 1, 0) end
end
local min_amount = amount_for(fixed, output, min_cap)
local full_amount = amount_for(fixed, output, requested)
local granted = requested
for i = 1, n do
  local s, c = specs[i], counters[i]
  local available = s.limit + c[3] + c[4] - c[1] - c[2]
  if available < min_amount then return reply('rejected', i - 1, 0) end
  if available < full_amount then
    -- available < the full amount here, so available * 1000 stays far below 2^53
    local room = available * 1000 - fixed
    local cap = 0
    if room > 0 then cap = floor_div(room, output) end
    if cap < min_cap then return reply('rejected', i - 1, 0) end
    if cap < granted then granted = cap end
  end
end
local limit = lim_decide(limits, n_limits, granted, min_cap, now)
if limit.status == 'limited' then
  local out = reply('limited', limit.index, limit.retry, true)
  table.insert(out, limit.kind); table.insert(out, limit.too_large)
  return out
end
granted = limit.granted

-- Pass 2: apply the same amount on every line.
local amount = amount_for(fixed, output, granted)
local lines = {}
for i = 1, n do
  local s = specs[i]
  redis.call('HINCRBY', s.key, 'reserved', int(amount))
  counters[i][2] = counters[i][2] + amount
  lines[i] = { s.key, int(s.limit) }
  if s.instance ~= '' and redis.call('SADD', s.inst_key, s.instance) == 1
      and s.ttl > 0 and redis.call('TTL', s.inst_key) < 0 then
    redis.call('EXPIRE', s.inst_key, s.ttl)
  end
end
redis.call('HSET', res_key, 'amount', int(amount), 'cap', int(granted), 'exp', int(lease_exp),
  'lines', cjson.encode(lines))
redis.call('ZADD', leases_key, int(lease_exp), id)
lim_apply(limits, n_limits, res_key, granted, now, lease_exp)
return reply('reserved', granted, amount, true)
