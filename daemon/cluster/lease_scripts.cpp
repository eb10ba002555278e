#include "cluster/lease_scripts.hpp"

#include <array>

namespace relay::cluster {

// Kept byte for byte equal to scripts/<name>.lua (tests/unit/cluster/test_lease_scripts.cpp).

const LeaseScript k_claim_script{
    "claim",
    R"lua(-- KEYS[1] the shard's lease, KEYS[2] its fencing counter; ARGV[1] node, ARGV[2] lease_ms.
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
)lua"};

const LeaseScript k_renew_script{
    "renew",
    R"lua(-- KEYS[1] the shard's lease; ARGV[1] node, ARGV[2] token, ARGV[3] lease_ms. Returns 1 when the lease was
-- still ours with this token and is extended, else 0.
if redis.call('GET', KEYS[1]) == ARGV[2] .. ' ' .. ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
)lua"};

const LeaseScript k_release_script{
    "release",
    R"lua(-- KEYS[1] the shard's lease; ARGV[1] node, ARGV[2] token. Deletes the lease only when it is ours with this
-- token; returns 1 when it was.
if redis.call('GET', KEYS[1]) == ARGV[2] .. ' ' .. ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)lua"};

const LeaseScript k_save_position_script{
    "save_position",
    R"lua(-- KEYS[1] the shard's position, KEYS[2] its fencing counter, KEYS[3] (optional) its lease; ARGV[1] token,
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
)lua"};

const LeaseScript k_load_position_script{
    "load_position",
    R"lua(-- KEYS[1] the shard's position. Returns {token, session_id, seq, relay_seq}, or an empty array when none is
-- stored (a new owner identifies).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {}
end
return redis.call('HMGET', KEYS[1], 'token', 'session_id', 'seq', 'relay_seq')
)lua"};

const LeaseScript k_pace_identify_script{
    "pace_identify",
    R"lua(-- KEYS[1] the identify bucket (one per shard_id % max_concurrency), KEYS[2] (optional) the shared daily quota;
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
)lua"};

const LeaseScript k_heartbeat_script{
    "heartbeat",
    R"lua(-- KEYS[1] the live-node sorted set; ARGV[1] node, ARGV[2] lease_ms. Scores are Redis' own clock in ms, so the
-- relays' host clocks never matter. Records the node, drops members silent for a lease, returns the live ones.
redis.replicate_commands()
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZRANGE', KEYS[1], 0, -1)
)lua"};

const LeaseScript k_note_quota_script{
    "note_quota",
    R"lua(-- KEYS[1] the shared daily quota; ARGV[1] the platform's remaining session starts, ARGV[2] ms until it resets.
-- The shared count only ever goes down to what the platform says: set when absent or when lower. Returns 1
-- when set, 0 when the stored count was already lower or equal.
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) <= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua"};

std::span<const LeaseScript> lease_scripts() {
  static const std::array<LeaseScript, 8> scripts{
      k_claim_script,         k_renew_script,         k_release_script,   k_save_position_script,
      k_load_position_script, k_pace_identify_script, k_heartbeat_script, k_note_quota_script};
  return scripts;
}

}  // namespace relay::cluster
