-- Settle (or release, with actual 0) a reservation on every line it holds, exactly once: the
-- reservation hash is the token, and the first call deletes it.
--
-- KEYS[1]   reservation hash {p}:res:<id>
-- KEYS[2]   lease index {p}:leases
--
-- ARGV[1]   reservation id (the lease member)
-- ARGV[2]   actual cost, nano-USD (0 to release); may exceed the reserved amount
-- ARGV[3]   optional: actual tokens, for the reservation's tokens-per-minute limits (limits.lua)
--
-- Returns {'unknown'} when the reservation is gone (settled, released or reaped already), else
-- {'settled', limit1, spent1, reserved1, spentBefore1, ...} per line of the reservation.
assert(#KEYS == 2, 'settle: 2 KEYS')
assert(#ARGV == 2 or #ARGV == 3, 'settle: 2 or 3 ARGV')
local out = settle_reservation(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
if out == nil then return { 'unknown' } end
table.insert(out, 1, 'settled')
return out
