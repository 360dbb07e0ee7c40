-- The current use of limit instances, without writing (the admin API's listing).
--
-- KEYS[i]   limit hash {p}:lim:<instance>, one per limit
-- ARGV[1]   now, ms
--
-- Returns 5 fields per limit (limits.lua lim_push_use): requests, tokens, inFlight,
-- resetRequestsMs, resetTokensMs.
assert(#ARGV == 1, 'limit-uses: 1 ARGV')
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do lim_push_use(out, lim_state(KEYS[i], now, false), now) end
return out
