-- Functions shared by the budget scripts, prepended to each of them when they are loaded
-- (src/store/redis/scripts.ts), so every script stays self-contained and EVALSHA needs nothing else.
-- It mirrors src/store/line-counters.ts and src/budget/reserve-decision.ts line for line.
--
-- Line hash `{p}:line:<instance>:<period>`: spent, reserved, rollover, topup (integer nano-USD).
-- Reservation hash `{p}:res:<id>`: amount, cap, exp, lines (JSON [[lineKey, "baseLimitNano"], ...]).

-- Lua numbers are doubles: values stay integers below 2^53, and are written back with %d
-- (tostring would give "1e+15", which HINCRBY refuses; cjson would round to 14 digits).
local function int(x) return string.format('%d', x) end

-- floor(a / b), exact even where the double quotient rounds up to the next integer.
local function floor_div(a, b)
  local q = math.floor(a / b)
  while q > 0 and q * b > a do q = q - 1 end
  while (q + 1) * b <= a do q = q + 1 end
  return q
end

local function ceil_div(a, b)
  local q = floor_div(a, b)
  if q * b < a then return q + 1 end
  return q
end

-- Nano-USD a reservation of cap output tokens costs.
local function amount_for(fixed_pico, output_pico, cap)
  return ceil_div(fixed_pico + cap * output_pico, 1000)
end

-- {spent, reserved, rollover, topup} of a line, or nil when the period was never touched.
local function read_line(key)
  local v = redis.call('HMGET', key, 'spent', 'reserved', 'rollover', 'topup')
  if not v[1] then return nil end
  return { tonumber(v[1]), tonumber(v[2]), tonumber(v[3] or 0), tonumber(v[4] or 0) }
end

-- Unused budget of the previous period, capped (roll_max is 0 when the line has no rollover).
local function carried_rollover(prev_key, limit, roll_max)
  if roll_max <= 0 then return 0 end
  -- An untouched previous period carries nothing (the budget may not have existed then).
  local p = read_line(prev_key)
  if not p then return 0 end
  local unused = limit + p[3] + p[4] - p[1] - p[2]
  if unused < 0 then unused = 0 end
  if unused > roll_max then return roll_max end
  return unused
end

-- Counters as they stand, without writing: an untouched period shows the rollover it would get.
local function peek_line(key, prev_key, limit, roll_max)
  return read_line(key) or { 0, 0, carried_rollover(prev_key, limit, roll_max), 0 }
end

-- Counters, creating the line on its period's first touch: the rollover is fixed from then on.
local function touch_line(key, prev_key, limit, roll_max, ttl)
  local c = read_line(key)
  if c then return c end
  local r = carried_rollover(prev_key, limit, roll_max)
  redis.call('HSET', key, 'spent', 0, 'reserved', 0, 'rollover', int(r), 'topup', 0)
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  return { 0, 0, r, 0 }
end

-- The balance triple the store replies with: effective limit, spent, reserved.
local function push_balance(out, limit, c)
  table.insert(out, limit + c[3] + c[4]); table.insert(out, c[1]); table.insert(out, c[2])
end

-- Replaces a reservation by spent (nil: its reserved amount) on each of its lines, deletes it and
-- its lease, and settles its limit holds (tokens to tokens, nil: as reserved; limits.lua).
-- Returns {limit, spent, reserved, spentBefore, ...} per line, or nil when it is gone.
local function settle_reservation(res_key, leases_key, id, spent, tokens)
  local r = redis.call('HMGET', res_key, 'amount', 'lines')
  redis.call('ZREM', leases_key, id)
  if not r[1] then return nil end
  local amount = tonumber(r[1])
  if spent == nil then spent = amount end
  local out = {}
  for _, line in ipairs(cjson.decode(r[2])) do
    local key, limit = line[1], tonumber(line[2])
    local c = read_line(key)
    if c then
      redis.call('HINCRBY', key, 'reserved', int(-amount))
      redis.call('HINCRBY', key, 'spent', int(spent))
      table.insert(out, limit + c[3] + c[4]); table.insert(out, c[1] + spent)
      table.insert(out, c[2] - amount); table.insert(out, c[1])
    else
      -- the line expired under the reservation (its TTL passed): nothing left to correct
      table.insert(out, limit); table.insert(out, 0); table.insert(out, 0); table.insert(out, 0)
    end
  end
  lim_settle(res_key, tokens)
  redis.call('DEL', res_key)
  return out
end

-- Settles up to max reservations whose lease expired at or before now; returns how many.
local function reap(leases_key, res_prefix, now, max)
  local ids = redis.call('ZRANGEBYSCORE', leases_key, '-inf', now, 'LIMIT', 0, max)
  for _, id in ipairs(ids) do
    settle_reservation(res_prefix .. id, leases_key, id, nil)
  end
  return #ids
end
