-- Take a reservation id out of the wait queues of its lines (its wait ran out), announcing the
-- lines where others still wait (they may fit now that it is no longer ahead of them).
--
-- for each line i = 0..n-1:
-- KEYS[1+2i]   the line's wait queue {p}:wait:<instance>:<period>
-- KEYS[2+2i]   the line's waiters' needs {p}:waitn:<instance>:<period>
--
-- ARGV[1]      reservation id
-- ARGV[2]      the deployment's freed channel {p}:freed
-- ARGV[3+i]    the line's name "instance|period"
--
-- Returns how many queues it was taken out of.
assert(#KEYS % 2 == 0, 'abandon: two KEYS per line')
assert(#ARGV == 2 + #KEYS / 2, 'abandon: 2 ARGV, then one per line')
local id, freed, removed = ARGV[1], new_freed(), 0
for i = 0, #KEYS / 2 - 1 do
  local wait, waitn = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  if redis.call('ZSCORE', wait, id) then
    removed = removed + 1
    if unqueue(wait, waitn, id) then add_freed(freed, ARGV[3 + i]) end
  end
end
publish_freed(ARGV[2], freed)
return removed
