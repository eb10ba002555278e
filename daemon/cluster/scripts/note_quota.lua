-- KEYS[1] the shared daily quota; ARGV[1] the platform's remaining session starts, ARGV[2] ms until it resets.
-- The shared count only ever goes down to what the platform says: set when absent or when lower. Returns 1
-- when set, 0 when the stored count was already lower or equal.
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) <= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
