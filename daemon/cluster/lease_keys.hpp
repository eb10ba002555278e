#pragma once

#include <string>
#include <string_view>

namespace relay::cluster {

// The Redis keys of one bot's cluster state under `prefix`. A shard's lease, fencing counter and position
// share the hash tag {shard:i/n}, so the multi-key scripts also work on a Redis Cluster slot.
struct LeaseKeys {
  std::string prefix;

  std::string lease(unsigned shard, unsigned count) const;
  std::string fence(unsigned shard, unsigned count) const;
  std::string position(unsigned shard, unsigned count) const;
  // The identify bucket shared by every shard with the same shard % max_concurrency.
  std::string identify_bucket(unsigned shard, unsigned max_concurrency) const;
  // The shared daily session-start quota (absent until a relay learns the platform's session_start_limit).
  std::string quota() const;
  // An event id published by some relay (expires after the dedupe period).
  std::string seen(std::string_view event_id) const;
  // The sorted set of live nodes (member: node, score: heartbeat time).
  std::string nodes() const;
};

}  // namespace relay::cluster
