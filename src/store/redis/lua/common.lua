-- Functions shared by the budget scripts, prepended to each of them when they are loaded
-- (src/store/redis/scripts.ts), so every script stays self-contained and EVALSHA needs nothing else.
-- It mirrors src/store/line-counters.ts and src/budget/reserve-decision.ts line for line.
--
-- Line hash `{p}:line:<instance>:<period>`: spent, reserved, rollover, topup (integer nano-USD).
-- Reservation hash `{p}:res:<id>`: amount, cap, fixed, output, exp, lines (JSON [[lineKey,
-- "baseLimitNano", waitKey, "instance|period"], ...]; reservations made before the wait queues
-- have the first two only, and are then never announced).
-- Wait queue of a line: sorted set `{p}:wait:<instance>:<period>` (member reservation id, score its
-- position = first enqueue time ms) and hash `{p}:waitn:<instance>:<period>` (id -> "need:expiry").

-- Lua numbers are doubles: values stay integers below 2^53, and are written back with %d
-- (tostring would give "1e+15", which HINCRBY refuses; cjson would round to 14 digits).
local function int(x) return string.format('%d', x) end

-- A price as stored in a reservation hash: 17 significant digits read back as the same double
-- (a prompt price may have a fraction of a pico-USD).
local function exact(x) return string.format('%.17g', x) end

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

-- Verdicts of a line that are not a cap (reserve-decision.ts REJECTED, BUSY).
local REJECTED, BUSY = -1, -2

-- reserve-decision.ts lineVerdict: the cap a line grants, BUSY or REJECTED.
-- lower_alone: a lower cap only from money nobody else holds (available == unspent), else BUSY.
local function line_verdict(available, unspent, owed, fixed, output, requested, min_cap, lower_alone)
  local need_full = amount_for(fixed, output, requested)
  local need_min = amount_for(fixed, output, min_cap)
  if available >= need_full then return requested end
  if unspent - owed >= need_full then return BUSY end
  if available >= need_min then
    if lower_alone and available < unspent then return BUSY end
    -- available < the full amount here, so available * 1000 stays far below 2^53
    local room = available * 1000 - fixed
    local cap = 0
    if room > 0 then cap = floor_div(room, output) end
    if cap > requested then return requested end
    return cap
  end
  if unspent >= need_min then return BUSY end
  return REJECTED
end

-- a < b byte for byte (Lua's own < follows the server's locale): the order of a sorted set's
-- members with equal scores, and of SQLite's BINARY collation.
local function bytes_lt(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- Waiters read ahead of a request per line (sqlite/waits.ts OWED_SCAN): bounded work per call.
local OWED_SCAN = 64

-- What live waiters ahead of id (at pos; nil: behind everyone) need on a line; expired entries met
-- on the way are pruned (sqlite/waits.ts owed).
local function owed_ahead(wait_key, need_key, id, pos, now)
  local entries = redis.call('ZRANGE', wait_key, 0, OWED_SCAN - 1, 'WITHSCORES')
  local total = 0
  for j = 1, #entries, 2 do
    local member, score = entries[j], tonumber(entries[j + 1])
    if pos ~= nil and not (score < pos or (score == pos and bytes_lt(member, id))) then break end
    local v = redis.call('HGET', need_key, member)
    local need, exp = 0, 0
    if v then
      local n, e = string.match(v, '^(%d+):(%d+)$')
      need, exp = tonumber(n), tonumber(e)
    end
    if exp <= now then
      redis.call('ZREM', wait_key, member); redis.call('HDEL', need_key, member)
    else
      total = total + need
    end
  end
  return total
end

-- Queues id on a line, or keeps its place (ZADD NX) and refreshes need and expiry.
local function enqueue(wait_key, need_key, id, pos, need, until_ms, ttl)
  redis.call('ZADD', wait_key, 'NX', int(pos), id)
  redis.call('HSET', need_key, id, int(need) .. ':' .. int(until_ms))
  if ttl > 0 and redis.call('TTL', wait_key) < 0 then
    redis.call('EXPIRE', wait_key, ttl); redis.call('EXPIRE', need_key, ttl)
  end
end

-- The needs hash of a wait queue: {p}:wait:<line> -> {p}:waitn:<line> (a hash tag holds no '}').
local function waitn_key(wait_key)
  local at = string.find(wait_key, '}:wait:', 1, true)
  return string.sub(wait_key, 1, at) .. ':waitn:' .. string.sub(wait_key, at + 7)
end

-- A line's remaining TTL in seconds (0: none), for keys made beside it.
local function line_ttl(line_key)
  local ttl = redis.call('TTL', line_key)
  if ttl > 0 then return ttl end
  return 0
end

-- Whether requests wait on a line: entries past place 0 (place 0 holds the answers being relayed,
-- extend.lua / reserve.lua hold_cap, which nobody has to wake).
local function has_waiters(wait_key)
  return redis.call('ZCOUNT', wait_key, '(0', '+inf') > 0
end

-- Takes id out of a line's queue; true when others still wait there.
local function unqueue(wait_key, need_key, id)
  if redis.call('ZREM', wait_key, id) == 1 then redis.call('HDEL', need_key, id) end
  return has_waiters(wait_key)
end

-- Freed lines, as a list without repeats (the payload of one PUBLISH per script).
local function add_freed(freed, name)
  if not freed.seen[name] then freed.seen[name] = true; table.insert(freed.list, name) end
end

local function new_freed() return { seen = {}, list = {} } end

-- One message per script on the deployment's channel, and only when someone waits.
local function publish_freed(channel, freed)
  if #freed.list > 0 then redis.call('PUBLISH', channel, cjson.encode(freed.list)) end
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

-- [hardening] 14.2: the base limit the instances agree on for a line. Each instance sends the
-- limit of its own config; when files differ, the smallest limit any instance sent within
-- LIMIT_AGREE_MS wins on every instance (a raise applies once no instance has sent the old, lower
-- one for that long). Freshness is kept by Redis's clock (TIME), not the instances'. Returns the
-- limit to use and whether the caller's own differed from the one in force.
local LIMIT_AGREE_MS = 60000

local function store_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function agreed_limit(key, sent, now)
  local v = redis.call('HMGET', key, 'limit', 'limit_at')
  local stored, at = tonumber(v[1]), tonumber(v[2])
  if stored == nil or at == nil or sent <= stored or now - at > LIMIT_AGREE_MS then
    redis.call('HSET', key, 'limit', int(sent), 'limit_at', int(now))
    return sent, stored ~= nil and stored ~= sent and now - (at or 0) <= LIMIT_AGREE_MS
  end
  return stored, true
end

-- The agreed limit as it stands, without writing (balances): the sent one when none is in force.
local function peek_limit(key, sent, now)
  local v = redis.call('HMGET', key, 'limit', 'limit_at')
  local stored, at = tonumber(v[1]), tonumber(v[2])
  if stored ~= nil and at ~= nil and stored < sent and now - at <= LIMIT_AGREE_MS then return stored end
  return sent
end

-- The balance triple the store replies with: effective limit, spent, reserved.
local function push_balance(out, limit, c)
  table.insert(out, limit + c[3] + c[4]); table.insert(out, c[1]); table.insert(out, c[2])
end

-- Replaces a reservation by spent (nil: its reserved amount) on each of its lines, deletes it and
-- its lease, and settles its limit holds (tokens to tokens, nil: as reserved; limits.lua); lines
-- with a non-empty wait queue go to freed. Returns {limit, spent, reserved, spentBefore, ...} per
-- line, or nil when it is gone.
local function settle_reservation(res_key, leases_key, id, spent, freed, tokens)
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
      -- an extension's hold ends with its reservation
      if line[3] and redis.call('ZSCORE', line[3], id) then unqueue(line[3], waitn_key(line[3]), id) end
      if line[3] and has_waiters(line[3]) then add_freed(freed, line[4]) end
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
local function reap(leases_key, res_prefix, now, max, freed)
  local ids = redis.call('ZRANGEBYSCORE', leases_key, '-inf', now, 'LIMIT', 0, max)
  for _, id in ipairs(ids) do
    settle_reservation(res_prefix .. id, leases_key, id, nil, freed)
  end
  return #ids
end
