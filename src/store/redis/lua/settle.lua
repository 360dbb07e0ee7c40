-- Settle (or release, with actual 0) a reservation on every line it holds, exactly once: the
-- reservation hash is the token, and the first call deletes it. Lines where requests wait are
-- announced on the deployment's freed channel (nothing is published when nobody waits).
--
-- KEYS[1]   reservation hash {p}:res:<id>
-- KEYS[2]   lease index {p}:leases
--
-- ARGV[1]   reservation id (the lease member)
-- ARGV[2]   actual cost, nano-USD (0 to release); may exceed the reserved amount
-- ARGV[3]   the deployment's freed channel {p}:freed
-- ARGV[4]   optional: actual tokens, for the reservation's tokens-per-minute limits (limits.lua)
--
-- Returns {'unknown'} when the reservation is gone (settled, released or reaped already), else
-- {'settled', limit1, spent1, reserved1, spentBefore1, ...} per line of the reservation.
assert(#KEYS == 2, 'settle: 2 KEYS')
assert(#ARGV == 3 or #ARGV == 4, 'settle: 3 or 4 ARGV')
local freed = new_freed()
local out = settle_reservation(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), freed, tonumber(ARGV[4]))
if out == nil then return { 'unknown' } end
publish_freed(ARGV[3], freed)
table.insert(out, 1, 'settled')
return out
