-- Grow a held reservation (metered streams) on every line it holds or on none, and renew its lease:
-- the mirror of src/budget/reserve-decision.ts decideExtend (the reserve rule on the increment,
-- without the waiters: a stream already relayed to its client goes first) and of
-- src/store/sqlite/budget.ts extendTx. The lines are read from the reservation hash: they are not
-- in KEYS, but every key shares the {p} hash tag, so they live in this script's slot.
--
-- KEYS[1]   reservation hash {p}:res:<id>
-- KEYS[2]   lease index {p}:leases
--
-- ARGV[1]   reservation id (the lease member)
-- ARGV[2]   tokens to add to the cap (0: renew the lease only)
-- ARGV[3]   fewest tokens worth adding
-- ARGV[4]   now, ms
-- ARGV[5]   the lease's new expiry, ms (renewed whatever the answer: the stream is alive)
-- ARGV[6]   tokens per cap unit on its tokens_per_minute limits (0: leave the limits' tokens)
-- ARGV[7]   hold until, ms: a busy answer queues the reservation at the head of each line's wait
--           queue until then, owed the least addition, so money coming back goes to the answer
--           being relayed before a new request (0: no hold); any other answer ends the hold
-- ARGV[8]   the deployment's freed channel {p}:freed (a hold ended while others wait is announced)
-- ARGV[9]   next slice to hold once extended, cap units (0: none; reserve.lua hold_cap)
--
-- Returns {'unknown'} when the reservation is gone, else {status, addedOrLineIndex, cap, amount,
-- limit1, spent1, reserved1, ...} per line: status 'extended' (second field the tokens added;
-- cap and amount the totals now held), 'busy' or 'rejected' (the 0-based index of the first line
-- that refused; nothing changed but the lease).
assert(#KEYS == 2, 'extend: 2 KEYS')
assert(#ARGV == 9, 'extend: 9 ARGV')
local res_key, leases_key, id = KEYS[1], KEYS[2], ARGV[1]
local add, min_add, lease_exp = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
local hold_until, channel, next_hold = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])

local r = redis.call('HMGET', res_key, 'amount', 'cap', 'fixed', 'output', 'lines')
if not r[1] then return { 'unknown' } end
redis.call('HSET', res_key, 'exp', int(lease_exp))
redis.call('ZADD', leases_key, int(lease_exp), id)
local amount, cap = tonumber(r[1]), tonumber(r[2])
-- reservations made before extensions existed carry no price: they can only be renewed
local fixed, output = tonumber(r[3] or 0), tonumber(r[4] or 0)
local lines = cjson.decode(r[5])

-- A line is judged at the base limit it was reserved under; a line gone (TTL) counts as empty.
local counters = {}
for i, line in ipairs(lines) do counters[i] = read_line(line[1]) or false end
local function reply(status, second, total_cap, total)
  local out = { status, second, total_cap, total }
  for i, line in ipairs(lines) do
    push_balance(out, tonumber(line[2]), counters[i] or { 0, 0, 0, 0 })
  end
  return out
end
if add <= 0 then return reply('extended', 0, cap, amount) end

-- The hold on every line the reservation holds (the extension needs them all), or its end.
local function hold(need, until_ms)
  for _, line in ipairs(lines) do
    if line[3] then enqueue(line[3], waitn_key(line[3]), id, 0, need, until_ms, line_ttl(line[1])) end
  end
end
local function unhold()
  local freed = new_freed()
  for _, line in ipairs(lines) do
    if line[3] and redis.call('ZSCORE', line[3], id) and unqueue(line[3], waitn_key(line[3]), id) then
      add_freed(freed, line[4])
    end
  end
  publish_freed(channel, freed)
end

local granted = cap + add
local rejected_at, busy_at = nil, nil
for i, line in ipairs(lines) do
  local c = counters[i] or { 0, 0, 0, 0 }
  -- the reservation's own amount counts as not yet held: the rule then reads the increment
  local unspent = tonumber(line[2]) + c[3] + c[4] - c[1]
  local v = line_verdict(unspent - c[2] + amount, unspent, 0, fixed, output, cap + add, cap + min_add)
  if v == REJECTED then
    if rejected_at == nil then rejected_at = i end
  elseif v == BUSY then
    if busy_at == nil then busy_at = i end
  elseif v < granted then
    granted = v
  end
end
if rejected_at ~= nil then
  unhold()
  return reply('rejected', rejected_at - 1, cap, amount)
end
if busy_at ~= nil then
  if hold_until > tonumber(ARGV[4]) then
    hold(amount_for(fixed, output, cap + min_add) - amount, hold_until)
  else
    unhold()
  end
  return reply('busy', busy_at - 1, cap, amount)
end

-- max: a reservation without a price never shrinks
local new_amount = math.max(amount, amount_for(fixed, output, granted))
local delta = new_amount - amount
for i, line in ipairs(lines) do
  if counters[i] then
    redis.call('HINCRBY', line[1], 'reserved', int(delta))
    counters[i][2] = counters[i][2] + delta
  end
end
redis.call('HSET', res_key, 'amount', int(new_amount), 'cap', int(granted))
lim_grow(res_key, (granted - cap) * tonumber(ARGV[6]), tonumber(ARGV[4]), lease_exp)
if next_hold > 0 and hold_until > tonumber(ARGV[4]) then
  -- until the lease expiry, as reserve.lua holds the first one: the next ask is half a slice away
  hold(amount_for(fixed, output, granted + next_hold) - new_amount, lease_exp)
else
  unhold()
end
return reply('extended', granted - cap, granted, new_amount)
