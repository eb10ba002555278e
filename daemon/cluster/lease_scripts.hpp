#pragma once

#include <span>
#include <string_view>

namespace relay::cluster {

// The Redis Lua scripts behind shard leases, fencing, positions and identify pacing. The same text lives in
// daemon/cluster/scripts/<name>.lua (read by the integration test); a unit test checks the two agree.
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
// KEYS: position, fencing counter. ARGV: token, session_id, seq, relay_seq. Returns 1, or the error
// "STALE_TOKEN ..." when the token is older than the counter (the position is left unchanged).
extern const LeaseScript k_save_position_script;
// KEYS: position. Returns {token, session_id, seq, relay_seq}, or an empty array.
extern const LeaseScript k_load_position_script;
// KEYS: identify bucket. ARGV: node, window_ms. Returns 0 (identify now) or the ms to wait.
extern const LeaseScript k_pace_identify_script;

std::span<const LeaseScript> lease_scripts();

}  // namespace relay::cluster
