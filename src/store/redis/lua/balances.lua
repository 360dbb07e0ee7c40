import { COMMON_LUA } from './common.js';

/**
 * Balances of lines as they stand, read-only: an untouched period shows the rollover it would
 * carry in now, without fixing it.
 *
 * for each line i = 0..n-1:
 * KEYS[1+2i]   the line's counters {p}:line:<instance>:<period>
 * KEYS[2+2i]   the previous period's counters, or {p}:none
 * ARGV[1+2i]   base limit, nano-USD
 * ARGV[2+2i]   rollover cap, nano-USD (0: no rollover)
 *
 * Returns {limit1, spent1, reserved1, ...}.
 */
export const BALANCES_LUA = `${COMMON_LUA}
local out = {}
for i = 0, #KEYS / 2 - 1 do
  local limit = tonumber(ARGV[1 + 2 * i])
  local c = peek_line(KEYS[1 + 2 * i], KEYS[2 + 2 * i], limit, tonumber(ARGV[2 + 2 * i]))
  table.insert(out, limit + c[3] + c[4]); table.insert(out, c[1]); table.insert(out, c[2])
end
return out
`;
