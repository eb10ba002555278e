-- KEYS[1] the identify bucket (one per shard_id % max_concurrency); ARGV[1] node, ARGV[2] window_ms.
-- Takes the bucket's slot for one window and returns 0, or returns the ms until the slot frees.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
local wait = redis.call('PTTL', KEYS[1])
if wait < 1 then
  return tonumber(ARGV[2])
end
return wait
