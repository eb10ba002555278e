-- KEYS[1] the identify bucket (one per shard_id % max_concurrency), KEYS[2] (optional) the shared daily quota;
-- ARGV[1] node, ARGV[2] window_ms. While the quota key exists and is spent (<= 0), refuses with its PTTL (when
-- it resets). Else takes the bucket's slot for one window, takes one start from the quota when the key exists,
-- and returns 0; or returns the ms until the slot frees (or the quota resets), at least 1.
if KEYS[2] then
  local quota = redis.call('GET', KEYS[2])
  if quota and tonumber(quota) <= 0 then
    local reset = redis.call('PTTL', KEYS[2])
    if reset < 0 then
      return tonumber(ARGV[2])
    end
    return reset + 1
  end
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('DECR', KEYS[2])
  end
  return 0
end
-- PTTL is 0 in the slot's last millisecond (the key expires once Redis' clock passes it): the wait ends 1 ms after
-- PTTL, never a whole window later, so that waiters retrying at the expiry get the slot then. No expiry at all
-- (a key set by hand): one window.
local wait = redis.call('PTTL', KEYS[1])
if wait < 0 then
  return tonumber(ARGV[2])
end
return wait + 1
