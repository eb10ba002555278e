-- KEYS[1] the shard's lease; ARGV[1] node, ARGV[2] token. Deletes the lease only when it is ours with this
-- token; returns 1 when it was.
if redis.call('GET', KEYS[1]) == ARGV[2] .. ' ' .. ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
