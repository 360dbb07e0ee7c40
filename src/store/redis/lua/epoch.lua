-- The deployment epoch ([hardening] 14.1): a value written once when the deployment is first
-- initialised, and again only by an operator's recovery. Every budget script checks it first
-- (the preamble src/store/redis/scripts.ts puts before each of them): a Redis that came back
-- empty has lost it, and the scripts then answer 'reset' instead of serving from empty counters.
--
-- KEYS[1]   {p}:epoch         the epoch value
-- KEYS[2]   {p}:epoch:reset   the reset marker: while it exists every budget script answers 'reset'
--
-- ARGV[1]   'init'    adopt the epoch, or create it (ARGV[2]) when there is neither epoch nor marker
--           'mark'    a reset was detected outside a script (the epoch was re-created by someone
--                     else): set the marker to ARGV[2] (kept if already set)
--           'recover' the operator's recovery: the epoch becomes ARGV[2], the marker goes
--           'read'    no writes
-- ARGV[2]   the new epoch value (init, recover) or the marker's text (mark)
--
-- Returns {epoch or '', marker text or '', created (1/0)}.
assert(#KEYS == 2, 'epoch: 2 KEYS')
assert(#ARGV == 2, 'epoch: 2 ARGV')
local mode, value = ARGV[1], ARGV[2]
local created = 0
if mode == 'init' then
  if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('SET', KEYS[1], value)
    created = 1
  end
elseif mode == 'mark' then
  redis.call('SET', KEYS[2], value, 'NX')
elseif mode == 'recover' then
  redis.call('SET', KEYS[1], value)
  redis.call('DEL', KEYS[2])
else
  assert(mode == 'read', 'epoch: unknown mode')
end
return { redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '', created }
