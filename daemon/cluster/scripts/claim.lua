-- KEYS[1] the shard's lease, KEYS[2] its fencing counter; ARGV[1] node, ARGV[2] lease_ms.
-- The lease value is "<token> <node>". A free lease is taken with a new fencing token; a lease already ours
-- is extended with the same token; another node's lease is left alone. Returns {token, owner}.
local current = redis.call('GET', KEYS[1])
if current then
  local space = string.find(current, ' ', 1, true)
  local token = tonumber(string.sub(current, 1, space - 1))
  local owner = string.sub(current, space + 1)
  if owner == ARGV[1] then
    redis.call('SET', KEYS[1], current, 'PX', ARGV[2])
  end
  return {token, owner}
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return {token, ARGV[1]}
