-- Zero a line's spent, rollover and top-ups; reservations in flight stay reserved (they settle
-- into the reset line later).
--
-- KEYS[1]   the line's counters {p}:line:<instance>:<period>
-- KEYS[2]   the previous period's counters, or {p}:none
--
-- ARGV[1]   base limit, nano-USD
-- ARGV[2]   rollover cap, nano-USD (0: no rollover)
-- ARGV[3]   counters TTL, seconds (0: none)
--
-- Returns {limit, spent, reserved}.
assert(#KEYS == 2, 'reset: 2 KEYS')
assert(#ARGV == 3, 'reset: 3 ARGV')
local limit = tonumber(ARGV[1])
local c = touch_line(KEYS[1], KEYS[2], limit, tonumber(ARGV[2]), tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'spent', 0, 'rollover', 0, 'topup', 0)
return { limit, 0, c[2] }
