-- Rate and concurrency limits, prepended (before common.lua) to the budget scripts when they are
-- loaded (src/store/redis/scripts.ts): reserve.lua checks and applies them in the same script as the
-- budget lines, and common.lua's settle_reservation settles them (settle, release and lease reaping
-- alike). It mirrors src/limits/decision.ts line for line: a sliding window of 1-second buckets,
-- the current one and the 60 before it (that file says why not GCRA).
--
-- Limit hash `{p}:lim:<instance>`: f (requests in flight), r:<bucket> and t:<bucket> (requests and
-- tokens counted in that second). Reservation hash field `limits`: JSON [[limitKey, bucket,
-- tokens], ...], what the reservation holds, so its settle corrects the tokens and frees the slot.
--
-- The limits section of reserve.lua's arguments comes after the budget lines' (L limits):
--   KEYS  ..., limitKey1, ..., limitKeyL
--   ARGV  ..., promptTokens, tokensPerCap, rpm1, tpm1, concurrent1, ..., rpmL, tpmL, concurrentL, L
-- (rpm -1: the client's request was counted there by an earlier attempt, a fallback: not again.)
-- (L last, so the script can find the section before it knows how many lines there are).

local function lim_int(x) return string.format('%d', x) end

local LIM_BUCKET_MS, LIM_WINDOW_BUCKETS, LIM_WINDOW_MS, LIM_CONCURRENCY_RETRY_MS = 1000, 61, 60000, 1000

-- {inflight, buckets = {{bucket, requests, tokens}, ...} oldest first}; drops dead buckets when
-- prune is true (read-only scripts leave them).
local function lim_state(key, now, prune)
  local flat = redis.call('HGETALL', key)
  local cur = math.floor(now / LIM_BUCKET_MS)
  local st, by, dead = { inflight = 0, buckets = {} }, {}, {}
  for i = 1, #flat, 2 do
    local f, v = flat[i], tonumber(flat[i + 1])
    if f == 'f' then
      st.inflight = v
    else
      local b = tonumber(string.sub(f, 3))
      if b and b > cur - LIM_WINDOW_BUCKETS then
        local e = by[b]
        if not e then e = { b, 0, 0 }; by[b] = e; table.insert(st.buckets, e) end
        if string.sub(f, 1, 1) == 'r' then e[2] = v else e[3] = v end
      else
        table.insert(dead, f)
      end
    end
  end
  table.sort(st.buckets, function(x, y) return x[1] < y[1] end)
  if prune and #dead > 0 then redis.call('HDEL', key, unpack(dead)) end
  return st
end

local function lim_leaves_at(bucket) return (bucket + LIM_WINDOW_BUCKETS) * LIM_BUCKET_MS end

local function lim_free_after(buckets, field, excess, now)
  local freed = 0
  for _, b in ipairs(buckets) do
    freed = freed + b[field]
    if freed >= excess then return math.max(1, lim_leaves_at(b[1]) - now) end
  end
  return LIM_WINDOW_MS
end

local function lim_first_after(buckets, field, now)
  for _, b in ipairs(buckets) do
    if b[field] > 0 then return math.max(0, lim_leaves_at(b[1]) - now) end
  end
  return 0
end

-- Appends requests, tokens, inflight, resetRequestsMs, resetTokensMs of one limit to out.
local function lim_push_use(out, st, now)
  local requests, tokens = 0, 0
  for _, b in ipairs(st.buckets) do requests = requests + b[2]; tokens = tokens + b[3] end
  table.insert(out, requests); table.insert(out, tokens); table.insert(out, st.inflight)
  table.insert(out, lim_first_after(st.buckets, 2, now)); table.insert(out, lim_first_after(st.buckets, 3, now))
end

-- Reads the limits section of reserve.lua's arguments (key_base, argv_base: the slots before it).
local function lim_specs(key_base, argv_base, count, now)
  local specs = { prompt = tonumber(ARGV[argv_base + 1]), per_cap = tonumber(ARGV[argv_base + 2]) }
  for i = 0, count - 1 do
    local key = KEYS[key_base + 1 + i]
    specs[i + 1] = {
      key = key, rpm = tonumber(ARGV[argv_base + 3 + 3 * i]), tpm = tonumber(ARGV[argv_base + 4 + 3 * i]),
      concurrent = tonumber(ARGV[argv_base + 5 + 3 * i]), st = lim_state(key, now, true),
    }
  end
  return specs
end

-- The decision (decideLimits): {status='ok', granted} or {status='limited', index, kind, retry, too_large}.
local function lim_decide(specs, count, cap, min_cap, now)
  local granted = cap
  for i = 1, count do
    local s = specs[i]
    local requests, tokens = 0, 0
    for _, b in ipairs(s.st.buckets) do requests = requests + b[2]; tokens = tokens + b[3] end
    if s.concurrent > 0 and s.st.inflight >= s.concurrent then
      return { status = 'limited', index = i - 1, kind = 'concurrent', retry = LIM_CONCURRENCY_RETRY_MS, too_large = 0 }
    end
    if s.rpm > 0 and requests + 1 > s.rpm then
      return { status = 'limited', index = i - 1, kind = 'requests',
        retry = lim_free_after(s.st.buckets, 2, requests + 1 - s.rpm, now), too_large = 0 }
    end
    if s.tpm > 0 then
      local need = specs.prompt + min_cap * specs.per_cap
      if need > s.tpm then
        return { status = 'limited', index = i - 1, kind = 'tokens', retry = LIM_WINDOW_MS, too_large = 1 }
      end
      local available = s.tpm - tokens
      if need > available then
        return { status = 'limited', index = i - 1, kind = 'tokens',
          retry = lim_free_after(s.st.buckets, 3, need - available, now), too_large = 0 }
      end
      if specs.per_cap > 0 then
        local fit = math.floor((available - specs.prompt) / specs.per_cap)
        if fit < granted then granted = fit end
      end
    end
  end
  return { status = 'ok', granted = granted }
end

-- Pass 2: counts the request, takes a slot and holds its tokens on every limit; records the holds
-- on the reservation hash. The limit hash lives at least as long as the lease (a slot must not
-- vanish while held) and one window.
local function lim_apply(specs, count, res_key, granted, now, lease_exp)
  if count == 0 then return end
  local bucket = math.floor(now / LIM_BUCKET_MS)
  local tokens = specs.prompt + granted * specs.per_cap
  local holds = {}
  local ttl_ms = math.max(lease_exp - now, 0) + LIM_WINDOW_MS + LIM_BUCKET_MS
  for i = 1, count do
    local s = specs[i]
    local counts = 1
    if s.rpm < 0 then counts = 0 end -- counted by an earlier attempt (a fallback): not again
    if counts > 0 then redis.call('HINCRBY', s.key, 'r:' .. bucket, counts) end
    redis.call('HINCRBY', s.key, 't:' .. bucket, lim_int(tokens))
    redis.call('HINCRBY', s.key, 'f', 1)
    if redis.call('PTTL', s.key) < ttl_ms then redis.call('PEXPIRE', s.key, lim_int(ttl_ms)) end
    local e = nil
    for _, b in ipairs(s.st.buckets) do if b[1] == bucket then e = b end end
    if not e then e = { bucket, 0, 0 }; table.insert(s.st.buckets, e) end
    e[2] = e[2] + counts; e[3] = e[3] + tokens
    s.st.inflight = s.st.inflight + 1
    holds[i] = { s.key, bucket, lim_int(tokens) }
  end
  redis.call('HSET', res_key, 'limits', cjson.encode(holds))
end

-- A metered extension (extend.lua): the reservation's tokens grow by `tokens` on every limit it
-- holds, in the second it was admitted (where its settle corrects them); not checked, the answer
-- is being relayed. The limit hash lives as long as the renewed lease (sqlite: limits.ts grow).
local function lim_grow(res_key, tokens, now, lease_exp)
  if tokens <= 0 then return end
  local raw = redis.call('HGET', res_key, 'limits')
  if not raw then return end
  local holds = cjson.decode(raw)
  local ttl_ms = math.max(lease_exp - now, 0) + LIM_WINDOW_MS + LIM_BUCKET_MS
  for _, h in ipairs(holds) do
    redis.call('HINCRBY', h[1], 't:' .. lim_int(h[2]), lim_int(tokens))
    if redis.call('PTTL', h[1]) < ttl_ms then redis.call('PEXPIRE', h[1], lim_int(ttl_ms)) end
    h[3] = lim_int(tonumber(h[3]) + tokens)
  end
  redis.call('HSET', res_key, 'limits', cjson.encode(holds))
end

-- Settles a reservation's holds: tokens to actual (nil: as reserved), one slot freed per limit.
local function lim_settle(res_key, actual_tokens)
  local raw = redis.call('HGET', res_key, 'limits')
  if not raw then return end
  for _, h in ipairs(cjson.decode(raw)) do
    local key, field = h[1], 't:' .. lim_int(h[2])
    if redis.call('EXISTS', key) == 1 then
      if actual_tokens ~= nil then
        local held, now_tokens = tonumber(h[3]), tonumber(redis.call('HGET', key, field) or '-1')
        if now_tokens >= 0 then
          redis.call('HSET', key, field, lim_int(math.max(0, now_tokens + actual_tokens - held)))
        end
      end
      if tonumber(redis.call('HGET', key, 'f') or '0') > 0 then redis.call('HINCRBY', key, 'f', -1) end
    end
  end
end
