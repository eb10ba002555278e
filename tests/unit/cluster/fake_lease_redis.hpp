#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/lease_keeper.hpp"

namespace relay::cluster::testing {

// The claim/renew/release scripts' semantics over a map, with the test's clock.
struct FakeLeaseRedis {
  struct Lease {
    std::string owner;
    std::uint64_t token;
    util::TimePoint expires;
  };
  std::map<unsigned, Lease> leases;
  std::map<unsigned, std::uint64_t> fences;
  util::Millis lease_ms{10'000};
  bool down = false;

  const Lease* live(unsigned shard, util::TimePoint now) const {
    auto it = leases.find(shard);
    return it != leases.end() && now < it->second.expires ? &it->second : nullptr;
  }
  std::optional<ClaimReply> claim(unsigned shard, const std::string& node, util::TimePoint now) {
    if (down) {
      return std::nullopt;
    }
    if (const Lease* held = live(shard, now)) {
      if (held->owner == node) {
        leases[shard].expires = now + lease_ms;
      }
      return ClaimReply{held->token, held->owner};
    }
    const std::uint64_t token = ++fences[shard];
    leases[shard] = Lease{node, token, now + lease_ms};
    return ClaimReply{token, node};
  }
  RenewResult renew(unsigned shard, const std::string& node, std::uint64_t token, util::TimePoint now) {
    if (down) {
      return RenewResult::failed;
    }
    const Lease* held = live(shard, now);
    if (!held || held->owner != node || held->token != token) {
      return RenewResult::lost;
    }
    leases[shard].expires = now + lease_ms;
    return RenewResult::renewed;
  }
  void release(unsigned shard, const std::string& node, std::uint64_t token, util::TimePoint now) {
    const Lease* held = live(shard, now);
    if (!down && held && held->owner == node && held->token == token) {
      leases.erase(shard);
    }
  }
};

// One relay: its keeper, and the shards it runs as its driver would (started, not stopped).
struct FakeNode {
  std::string name;
  LeaseKeeper keeper;
  std::map<unsigned, std::uint64_t> running;  // shard -> token
  bool frozen = false;
  bool left = false;

  void apply(LeaseActions actions, FakeLeaseRedis& redis, util::TimePoint now) {
    for (std::size_t i = 0; i < actions.size(); ++i) {
      LeaseActions more;
      const auto& action = actions[i];
      if (const auto* claim = std::get_if<ClaimShard>(&action)) {
        keeper.on_claim_result(claim->shard, redis.claim(claim->shard, name, now), now, more);
      } else if (const auto* renew = std::get_if<RenewShard>(&action)) {
        keeper.on_renew_result(renew->shard, redis.renew(renew->shard, name, renew->token, now), now, more);
      } else if (const auto* release = std::get_if<ReleaseShard>(&action)) {
        redis.release(release->shard, name, release->token, now);
      } else if (const auto* start = std::get_if<StartShard>(&action)) {
        running[start->shard] = start->token;
      } else if (const auto* stop = std::get_if<StopShard>(&action)) {
        running.erase(stop->shard);
      }
      actions.insert(actions.end(), more.begin(), more.end());
    }
  }
};

}  // namespace relay::cluster::testing
