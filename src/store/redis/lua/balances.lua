-- Balances of lines as they stand, read-only: an untouched period shows the rollover it would
-- carry in now, without fixing it.
--
-- for each line i = 0..n-1:
-- KEYS[1+2i]   the line's counters {p}:line:<instance>:<period>
-- KEYS[2+2i]   the previous period's counters, or {p}:none
-- ARGV[1+2i]   base limit, nano-USD
-- ARGV[2+2i]   rollover cap, nano-USD (0: no rollover)
--
-- Returns {limit1, spent1, reserved1, ...}.
assert(#KEYS % 2 == 0, 'balances: two KEYS per line')
assert(#ARGV == #KEYS, 'balances: two ARGV per line')
local out = {}
local now = store_now_ms()
for i = 0, #KEYS / 2 - 1 do
  local limit = peek_limit(KEYS[1 + 2 * i], tonumber(ARGV[1 + 2 * i]), now)
  push_balance(out, limit, peek_line(KEYS[1 + 2 * i], KEYS[2 + 2 * i], limit, tonumber(ARGV[2 + 2 * i])))
end
return out
