-- KEYS[1] the shard's position. Returns {token, session_id, seq, relay_seq}, or an empty array when none is
-- stored (a new owner identifies).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {}
end
return redis.call('HMGET', KEYS[1], 'token', 'session_id', 'seq', 'relay_seq')
