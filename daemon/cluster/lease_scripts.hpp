#pragma once

#include <span>
#include <string_view>

namespace relay::cluster {

// The Redis Lua scripts behind shard leases, fencing, positions, node heartbeats, identify pacing and quota.
// Their text is daemon/cluster/scripts/<name>.lua, embedded at build time (daemon/cluster/lease.cmake).
struct LeaseScript {
  std::string_view name;    // the .lua file's stem
  std::string_view source;  // for EVAL / SCRIPT LOAD
};

// KEYS: lease, fencing counter. ARGV: node, lease_ms. Returns {token, owner}: ours when owner == node.
extern const LeaseScript k_claim_script;
// KEYS: lease. ARGV: node, token, lease_ms. Returns 1 (renewed) or 0 (no longer ours).
extern const LeaseScript k_renew_script;
// KEYS: lease. ARGV: node, token. Returns 1 (released) or 0 (not ours).
extern const LeaseScript k_release_script;
// KEYS: position, fencing counter, (optional) lease. ARGV: token, session_id, seq, relay_seq, node. Returns
// 1, or the error "STALE_TOKEN ..." when the token is older than the counter, or another lease than the
// writer's is live (the position is left unchanged).
extern const LeaseScript k_save_position_script;
// KEYS: position. Returns {token, session_id, seq, relay_seq}, or an empty array.
extern const LeaseScript k_load_position_script;
// KEYS: identify bucket, and optionally the daily quota. ARGV: node, window_ms. Returns 0 (identify now; one
// start taken from the quota when its key exists) or the ms to wait (the window, or the quota's reset).
extern const LeaseScript k_pace_identify_script;
// KEYS: live-node set. ARGV: node, lease_ms. Scores with Redis' TIME, drops silent nodes, returns the live
// ones.
extern const LeaseScript k_heartbeat_script;
// KEYS: daily quota. ARGV: remaining, reset_after_ms. Sets it when absent or lower; returns 1 when set.
extern const LeaseScript k_note_quota_script;

std::span<const LeaseScript> lease_scripts();

}  // namespace relay::cluster
