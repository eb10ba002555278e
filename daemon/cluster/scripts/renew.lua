-- KEYS[1] the shard's lease; ARGV[1] node, ARGV[2] token, ARGV[3] lease_ms. Returns 1 when the lease was
-- still ours with this token and is extended, else 0.
if redis.call('GET', KEYS[1]) == ARGV[2] .. ' ' .. ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
