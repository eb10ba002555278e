-- KEYS[1] the shard's position, KEYS[2] its fencing counter, KEYS[3] (optional) its lease; ARGV[1] token,
-- ARGV[2] session_id, ARGV[3] seq, ARGV[4] relay_seq, ARGV[5] node (with KEYS[3]). A token older than the
-- counter belongs to an owner that lost the shard: refused, so a relay partitioned away never overwrites the
-- new owner's position. With the lease given, a write is also refused while a lease other than the writer's
-- is live: after Redis lost its data the counter starts again below the tokens of the owners from before.
local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) < fence then
  return redis.error_reply('STALE_TOKEN ' .. ARGV[1] .. ' < ' .. fence)
end
if KEYS[3] then
  local lease = redis.call('GET', KEYS[3])
  if lease and lease ~= ARGV[1] .. ' ' .. ARGV[5] then
    return redis.error_reply('STALE_TOKEN ' .. ARGV[1] .. ': the lease is ' .. lease)
  end
end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'session_id', ARGV[2], 'seq', ARGV[3], 'relay_seq', ARGV[4])
return 1
