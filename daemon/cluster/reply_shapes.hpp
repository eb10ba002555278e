// What the cluster's Redis replies mean, as pure functions of a copied reply (the Lua scripts in
// scripts/*.lua say what each one returns). Redis is trusted less than it seems: a reply may come from
// another version of the scripts, from data an operator edited by hand, or from a Redis that lost half a
// hash. Anything that is not exactly the expected shape is refused here, never half-read, and nothing here
// throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_coordinator.hpp"
#include "cluster/lease_keeper.hpp"
#include "cluster/redis_reply.hpp"

namespace relay::cluster {

// A non-negative integer reply, or a string/status reply of decimal digits only that fits 64 bits.
std::optional<std::uint64_t> to_uint(const RedisReply& reply);

// True for a session id this relay would put in a RESUME frame: 1 to 256 bytes of well-formed UTF-8 without
// control characters. Anything else did not come from the platform (the JSON writer would escape it or swap
// malformed bytes for U+FFFD, so the frame stays valid, but it would resume a session nobody issued) and
// could forge log lines.
bool is_resumable_session_id(std::string_view session_id);

// load_position's reply {token, session_id, seq, relay_seq}: why it cannot be used, or an empty view when it
// is a usable position or the empty array that says none is stored.
std::string_view position_problem(const RedisReply& reply);
// The stored position, or none (nothing stored, or a reply position_problem refuses).
std::optional<StoredPosition> position_from(const RedisReply& reply);

// claim's reply {token, owner}; none unless both are there and the owner is a non-empty node name.
std::optional<ClaimReply> claim_from(const RedisReply& reply);

// heartbeat's reply, the live nodes: its non-empty string members, sorted, each once. None when the reply is
// not an array (an error).
std::optional<std::vector<std::string>> members_from(const RedisReply& reply);

// renew's reply: 1 renewed, 0 lost, anything else failed.
RenewResult renewal_from(const RedisReply& reply);

// save_position refused the write: another relay holds a newer fencing token or the live lease.
bool is_stale_token(const RedisReply& reply);

}  // namespace relay::cluster
