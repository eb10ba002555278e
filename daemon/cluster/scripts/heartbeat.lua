-- KEYS[1] the live-node sorted set; ARGV[1] node, ARGV[2] lease_ms. Scores are Redis' own clock in ms, so the
-- relays' host clocks never matter. Records the node, drops members silent for a lease, returns the live ones.
redis.replicate_commands()
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZRANGE', KEYS[1], 0, -1)
