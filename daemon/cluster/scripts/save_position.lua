-- KEYS[1] the shard's position, KEYS[2] its fencing counter; ARGV[1] token, ARGV[2] session_id, ARGV[3] seq,
-- ARGV[4] relay_seq. A token older than the counter belongs to an owner that lost the shard: refused, so a
-- relay partitioned away never overwrites the new owner's position.
local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) < fence then
  return redis.error_reply('STALE_TOKEN ' .. ARGV[1] .. ' < ' .. fence)
end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'session_id', ARGV[2], 'seq', ARGV[3], 'relay_seq', ARGV[4])
return 1
