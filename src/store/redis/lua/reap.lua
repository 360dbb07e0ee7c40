-- Settle expired reservations at their reserved amount (their process probably died after the
-- provider billed). Reads each reservation's lines from the reservation hash: they are not in KEYS,
-- but every key shares the {p} hash tag, so they live in this script's slot.
--
-- KEYS[1]   lease index {p}:leases
--
-- ARGV[1]   now, ms: leases expiring at or before it are settled
-- ARGV[2]   most reservations to settle in this call (the caller loops while it gets a full batch)
-- ARGV[3]   reservation key prefix {p}:res:
-- ARGV[4]   the deployment's freed channel {p}:freed (lines with waiters are announced)
--
-- Returns how many reservations were settled.
assert(#KEYS == 1, 'reap: 1 KEYS')
assert(#ARGV == 4, 'reap: 4 ARGV')
local freed = new_freed()
local n = reap(KEYS[1], ARGV[3], tonumber(ARGV[1]), tonumber(ARGV[2]), freed)
publish_freed(ARGV[4], freed)
return n
