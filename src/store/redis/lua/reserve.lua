-- Reserve on every line or on none, in two passes (Sentry Relay's is_rate_limited.lua shape):
-- reap a few expired leases, touch every line (first touch fixes the period's rollover), decide on
-- all lines (the mirror of src/budget/reserve-decision.ts decideLines, with the waiters ahead of
-- this request from each line's queue, as src/store/sqlite/budget.ts reserveTx reads them), queue
-- a busy request that may wait, and only if all lines agree apply the same amount to all of them.
--
-- KEYS[1]       reservation hash {p}:res:<id>
-- KEYS[2]       lease index, sorted set {p}:leases (member id, score lease expiry ms)
-- then for each line i = 0..n-1:
-- KEYS[3+5i]    the line's counters {p}:line:<instance>:<period>
-- KEYS[4+5i]    the previous period's counters (rollover source), or the {p}:none placeholder
-- KEYS[5+5i]    the budget's instance set {p}:inst:<budgetId>:<period>, or {p}:none
-- KEYS[6+5i]    the line's wait queue {p}:wait:<instance>:<period> (sorted set id -> position)
-- KEYS[7+5i]    the line's waiters' needs {p}:waitn:<instance>:<period> (hash id -> "need:expiry")
--
-- ARGV[1]       reservation id (the lease member)
-- ARGV[2]       now, ms (the gateway's clock, so tests control it)
-- ARGV[3]       this reservation's lease expiry, ms
-- ARGV[4]       fixed cost, pico-USD (prompt etc.)
-- ARGV[5]       output price, pico-USD per token
-- ARGV[6]       requested output cap, tokens
-- ARGV[7]       lowest output cap fit-to-budget may grant
-- ARGV[8]       reservation key prefix {p}:res: (reaped reservations' keys are built from it)
-- ARGV[9]       wait until, ms: a busy answer queues the id until then when past now (0: no wait)
-- ARGV[10]      the deployment's freed channel {p}:freed (reaping announces lines with waiters)
-- then for each line i:
-- ARGV[11+6i]   base limit, nano-USD
-- ARGV[12+6i]   rollover cap, nano-USD (0: no rollover)
-- ARGV[13+6i]   downgrade threshold on committed nano-USD (-1: none)
-- ARGV[14+6i]   counters TTL, seconds (0: none)
-- ARGV[15+6i]   template instance to record in the instance set ('' for none)
-- ARGV[16+6i]   the line's name "instance|period" (the freed channel's payload)
--
-- then the limits section (limits.lua), L limits j = 0..L-1 after the n lines:
-- KEYS[3+5n+j]  the limit instance's hash {p}:lim:<instance>
-- ARGV[11+6n]   prompt tokens (tokens-per-minute limits)
-- ARGV[12+6n]   tokens per unit of output cap
-- ARGV[13+6n+3j] requests per minute (0: none)
-- ARGV[14+6n+3j] tokens per minute (0: none)
-- ARGV[15+6n+3j] concurrent requests (0: none)
-- ARGV[#ARGV-2] 1: lower the cap only with money nobody else holds, else busy (ReserveRequest
--               lowerOnlyWhenAlone); 0: fit-to-budget lowers to what is free
-- ARGV[#ARGV-1] next slice to hold, cap units (0: none): a metered request reserved here is queued
--               at the head of its lines' wait queues until its lease expiry, owed that slice, so
--               later requests leave room for it (extend.lua takes and renews the hold)
-- ARGV[#ARGV]   L (last, so the script finds the section before it knows n)
--
-- Returns {status, capOrLineIndex, amount, expiredSettled, drifted, limit1, spent1, reserved1, ...}
-- (drifted: 1 + the index of the first line whose limit differed from the one in force, 0 none):
-- status 'reserved' (second field the granted cap), 'rejected', 'busy' or 'downgrade' (the 0-based
-- index of the line that decided it; amount 0); 'reserved' then has 5 use fields per limit
-- (limits.lua lim_push_use); 'limited' has the limit index, amount = retry-after ms, the balances,
-- the uses, then kind and tooLarge (0/1). A rejected line wins over a limit, and a limit over a
-- busy line (a rate-limited request does not queue for money).
local n_limits = tonumber(ARGV[#ARGV])
assert(#KEYS >= 2 + n_limits and (#KEYS - 2 - n_limits) % 5 == 0, 'reserve: 2 KEYS, 5 per line, 1 per limit')
local n = (#KEYS - 2 - n_limits) / 5
assert(#ARGV == 10 + 6 * n + 5 + 3 * n_limits, 'reserve: 10 ARGV, 6 per line, 5 + 3 per limit')
local hold_cap = tonumber(ARGV[#ARGV - 1])
local lower_alone = ARGV[#ARGV - 2] == '1'

local res_key, leases_key = KEYS[1], KEYS[2]
local id = ARGV[1]
local now, lease_exp = tonumber(ARGV[2]), tonumber(ARGV[3])
local fixed, output = tonumber(ARGV[4]), tonumber(ARGV[5])
local requested, min_cap = tonumber(ARGV[6]), tonumber(ARGV[7])
local wait_until, channel = tonumber(ARGV[9]), ARGV[10]

local freed = new_freed()
local expired = reap(leases_key, ARGV[8], now, 16, freed)

local specs, counters = {}, {}
for i = 0, n - 1 do
  local s = {
    key = KEYS[3 + 5 * i], prev = KEYS[4 + 5 * i], inst_key = KEYS[5 + 5 * i],
    wait = KEYS[6 + 5 * i], waitn = KEYS[7 + 5 * i],
    limit = tonumber(ARGV[11 + 6 * i]), roll_max = tonumber(ARGV[12 + 6 * i]),
    downgrade_at = tonumber(ARGV[13 + 6 * i]), ttl = tonumber(ARGV[14 + 6 * i]),
    instance = ARGV[15 + 6 * i], name = ARGV[16 + 6 * i],
  }
  specs[i + 1] = s
  counters[i + 1] = touch_line(s.key, s.prev, s.limit, s.roll_max, s.ttl)
end
-- Instances whose configs differ agree on the smallest recent limit (common.lua agreed_limit).
local drifted = 0
do
  local store_now = store_now_ms()
  for i = 1, n do
    local limit, differs = agreed_limit(specs[i].key, specs[i].limit, store_now)
    specs[i].limit = limit
    if differs and drifted == 0 then drifted = i end
  end
end

local limits = lim_specs(2 + 5 * n, 10 + 6 * n, n_limits, now)

local function reply(status, second, amount, uses)
  publish_freed(channel, freed)
  local out = { status, second, amount, expired, drifted }
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
-- The request's place: its first enqueue time, the same on every line it waits on (nil: nowhere).
local pos = nil
for i = 1, n do
  local score = redis.call('ZSCORE', specs[i].wait, id)
  if score and (pos == nil or tonumber(score) < pos) then pos = tonumber(score) end
end
local verdicts, granted = {}, requested
local rejected_at, busy_at = nil, nil
for i = 1, n do
  local s, c = specs[i], counters[i]
  local o = owed_ahead(s.wait, s.waitn, id, pos, now)
  local unspent = s.limit + c[3] + c[4] - c[1]
  local v = line_verdict(unspent - c[2] - o, unspent, o, fixed, output, requested, min_cap, lower_alone)
  verdicts[i] = v
  if v == REJECTED then
    if rejected_at == nil then rejected_at = i end
  elseif v == BUSY then
    if busy_at == nil then busy_at = i end
  elseif v < granted then
    granted = v
  end
end
-- Limits are judged only when no line rejected (an exhausted budget answers first).
local limit = { status = 'ok', granted = granted }
if rejected_at == nil then limit = lim_decide(limits, n_limits, granted, min_cap, now) end
local refused = rejected_at ~= nil or limit.status == 'limited'
if not refused and busy_at ~= nil then
  if wait_until > now then
    local need = amount_for(fixed, output, min_cap)
    for i = 1, n do
      local s = specs[i]
      if verdicts[i] == BUSY then enqueue(s.wait, s.waitn, id, pos or now, need, wait_until, s.ttl) end
    end
  end
  return reply('busy', busy_at - 1, 0)
end
-- Served or refused: it waits no more. Those behind a refused waiter may fit now.
if pos ~= nil then
  for i = 1, n do
    local s = specs[i]
    if unqueue(s.wait, s.waitn, id) and refused then add_freed(freed, s.name) end
  end
end
if rejected_at ~= nil then return reply('rejected', rejected_at - 1, 0) end
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
  lines[i] = { s.key, int(s.limit), s.wait, s.name }
  if s.instance ~= '' and redis.call('SADD', s.inst_key, s.instance) == 1
      and s.ttl > 0 and redis.call('TTL', s.inst_key) < 0 then
    redis.call('EXPIRE', s.inst_key, s.ttl)
  end
end
redis.call('HSET', res_key, 'amount', int(amount), 'cap', int(granted), 'fixed', exact(fixed),
  'output', exact(output), 'exp', int(lease_exp), 'lines', cjson.encode(lines))
redis.call('ZADD', leases_key, int(lease_exp), id)
lim_apply(limits, n_limits, res_key, granted, now, lease_exp)
-- A lowered grant is a budget's end: the engine caps that answer upstream at what it holds and does
-- not meter it, so it is owed nothing more.
if hold_cap > 0 and granted == requested then
  local need = amount_for(fixed, output, granted + hold_cap) - amount
  for i = 1, n do enqueue(specs[i].wait, specs[i].waitn, id, 0, need, lease_exp, specs[i].ttl) end
end
return reply('reserved', granted, amount, true)
