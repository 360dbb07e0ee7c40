-- Add to a line's top-ups (raising its effective limit), touching the line first.
--
-- KEYS[1]   the line's counters {p}:line:<instance>:<period>
-- KEYS[2]   the previous period's counters, or {p}:none
--
-- ARGV[1]   base limit, nano-USD
-- ARGV[2]   rollover cap, nano-USD (0: no rollover)
-- ARGV[3]   counters TTL, seconds (0: none)
-- ARGV[4]   amount to add, nano-USD
--
-- Returns {limit, spent, reserved}.
assert(#KEYS == 2, 'topup: 2 KEYS')
assert(#ARGV == 4, 'topup: 4 ARGV')
local limit = tonumber(ARGV[1])
local c = touch_line(KEYS[1], KEYS[2], limit, tonumber(ARGV[2]), tonumber(ARGV[3]))
local amount = tonumber(ARGV[4])
redis.call('HINCRBY', KEYS[1], 'topup', int(amount))
return { limit + c[3] + c[4] + amount, c[1], c[2] }
