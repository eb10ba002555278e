#include <catch2/catch.hpp>
#include <memory>

#include "fake_lease_redis.hpp"

using namespace relay::cluster;
using namespace relay::cluster::testing;
using relay::util::Millis;
using relay::util::TimePoint;

namespace {

constexpr unsigned k_shards = 6;
constexpr Millis k_lease{10'000};

LeaseSettings settings_for(std::string node, unsigned shards = k_shards) {
  return LeaseSettings{shards, std::move(node), k_lease, Millis(2'000)};
}

// Three relays over one fake Redis, stepped 100 ms at a time; a frozen node neither ticks nor heartbeats.
struct Cluster {
  FakeLeaseRedis redis;
  std::vector<std::unique_ptr<FakeNode>> nodes;
  TimePoint now{Millis(1'000'000)};

  explicit Cluster(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      const std::string name = "relay-" + std::string(1, static_cast<char>('a' + i));
      nodes.push_back(std::make_unique<FakeNode>(FakeNode{name, LeaseKeeper(settings_for(name)), {}}));
    }
  }
  std::vector<std::string> live() const {
    std::vector<std::string> names;
    for (const auto& n : nodes) {
      if (!n->frozen && !n->left) {
        names.push_back(n->name);
      }
    }
    return names;
  }
  void tick(FakeNode& node) {
    LeaseActions out;
    node.keeper.on_live_nodes(live(), now, out);
    node.apply(std::move(out), redis, now);
    check_single_owner();
  }
  void step(Millis by = Millis(100)) {
    now += by;
    for (auto& n : nodes) {
      if (!n->frozen && !n->left) {
        tick(*n);
      }
    }
  }
  void run_for(Millis duration) {
    for (TimePoint end = now + duration; now < end;) {
      step();
    }
  }
  // Never two owners: of the nodes that can act, at most one runs a shard, with the current fencing token
  // and a lease Redis still holds for it.
  void check_single_owner() const {
    for (unsigned shard = 0; shard < k_shards; ++shard) {
      int owners = 0;
      for (const auto& n : nodes) {
        if (n->frozen || n->left || !n->running.contains(shard)) {
          continue;
        }
        ++owners;
        const auto* lease = redis.live(shard, now);
        INFO("shard " << shard << " on " << n->name);
        REQUIRE(lease != nullptr);
        REQUIRE(lease->owner == n->name);
        REQUIRE(n->running.at(shard) == redis.fences.at(shard));
        REQUIRE(n->keeper.holds(shard, now));
      }
      REQUIRE(owners <= 1);
    }
  }
  std::size_t running_total() const {
    std::size_t total = 0;
    for (const auto& n : nodes) {
      total += n->left || n->frozen ? 0 : n->running.size();
    }
    return total;
  }
};

}  // namespace

TEST_CASE("three relays split six shards two each and keep them while renewing") {
  Cluster cluster(3);
  cluster.run_for(Millis(60'000));
  for (const auto& n : cluster.nodes) {
    CHECK(n->running.size() == 2);
    CHECK(n->keeper.fair_share() == 2);
  }
  // Renewals kept every first lease: one owner change per shard, ever.
  for (unsigned shard = 0; shard < k_shards; ++shard) {
    CHECK(cluster.redis.fences[shard] == 1);
  }
}

TEST_CASE("a relay frozen past its lease loses its shards to the others and stops them when it wakes") {
  Cluster cluster(3);
  cluster.run_for(Millis(30'000));
  FakeNode& frozen = *cluster.nodes[0];
  const auto taken = frozen.running;
  REQUIRE(taken.size() == 2);
  frozen.frozen = true;
  cluster.run_for(k_lease + Millis(5'000));
  // The others took over with a newer token within the lease and a few renew periods.
  CHECK(cluster.running_total() == k_shards);
  for (const auto& [shard, token] : taken) {
    CHECK(cluster.redis.fences[shard] == token + 1);
  }
  // Awake again: its first tick stops what it held, before anything else could run (checked in tick).
  frozen.frozen = false;
  LeaseActions out;
  frozen.keeper.on_tick(cluster.now, out);
  REQUIRE(out.size() >= taken.size());
  for (std::size_t i = 0; i < taken.size(); ++i) {
    const auto* stop = std::get_if<StopShard>(&out[i]);
    REQUIRE(stop != nullptr);
    CHECK(stop->reason == StopReason::lease_expiring);
  }
  frozen.apply(std::move(out), cluster.redis, cluster.now);
  cluster.check_single_owner();
  // It then gets its share back as the others hand over above theirs.
  cluster.run_for(Millis(60'000));
  for (const auto& n : cluster.nodes) {
    CHECK(n->running.size() == 2);
  }
}

TEST_CASE("a relay leaving gracefully releases its shards and the others take them at once") {
  Cluster cluster(3);
  cluster.run_for(Millis(30'000));
  FakeNode& leaving = *cluster.nodes[2];
  LeaseActions out;
  leaving.keeper.shutdown(out);
  leaving.apply(std::move(out), cluster.redis, cluster.now);
  CHECK(leaving.running.empty());
  leaving.left = true;
  cluster.run_for(k_lease / 2);  // well before the released leases could have expired
  CHECK(cluster.running_total() == k_shards);
  CHECK(cluster.nodes[0]->running.size() == 3);
  CHECK(cluster.nodes[1]->running.size() == 3);
}

TEST_CASE("a relay that joins later gets its share as the others hand shards over") {
  Cluster cluster(3);
  cluster.nodes[2]->left = true;  // not started yet
  cluster.run_for(Millis(30'000));
  CHECK(cluster.nodes[0]->running.size() == 3);
  cluster.nodes[2]->left = false;
  cluster.run_for(Millis(40'000));
  for (const auto& n : cluster.nodes) {
    CHECK(n->running.size() == 2);
  }
}

TEST_CASE("with Redis unreachable a shard stops before its lease expires, and is claimed back later") {
  FakeLeaseRedis redis;
  FakeNode node{"solo", LeaseKeeper(settings_for("solo", 1)), {}};
  TimePoint now{Millis(5'000'000)};
  LeaseActions out;
  node.keeper.on_tick(now, out);
  node.apply(std::move(out), redis, now);
  REQUIRE(node.running.size() == 1);
  const TimePoint expires = redis.leases.at(0).expires;
  redis.down = true;
  std::optional<TimePoint> stopped_at;
  while (now < expires + k_lease) {
    now += Millis(50);
    out.clear();
    node.keeper.on_tick(now, out);
    node.apply(std::move(out), redis, now);
    if (node.running.empty() && !stopped_at) {
      stopped_at = now;
    }
  }
  REQUIRE(stopped_at);
  CHECK(*stopped_at < expires);
  CHECK(*stopped_at >= expires - Millis(2'100));
  redis.down = false;
  now += k_lease;
  out.clear();
  node.keeper.on_tick(now, out);
  node.apply(std::move(out), redis, now);
  CHECK(node.running.at(0) == 2);  // the lease expired meanwhile: a new token
}

TEST_CASE("a renewal answered 'not ours' stops the shard at once") {
  LeaseKeeper keeper(settings_for("a", 1));
  TimePoint now{Millis(1'000)};
  LeaseActions out;
  keeper.on_tick(now, out);
  REQUIRE(out.size() == 1);
  REQUIRE(std::holds_alternative<ClaimShard>(out[0]));
  out.clear();
  keeper.on_claim_result(0, ClaimReply{7, "a"}, now, out);
  REQUIRE(std::get<StartShard>(out.at(0)).token == 7);
  now += k_lease / 3;
  out.clear();
  keeper.on_tick(now, out);
  REQUIRE(std::get<RenewShard>(out.at(0)).token == 7);
  out.clear();
  keeper.on_renew_result(0, RenewResult::lost, now, out);
  const auto& stop = std::get<StopShard>(out.at(0));
  CHECK(stop.reason == StopReason::lease_lost);
  CHECK_FALSE(keeper.holds(0, now));
}

TEST_CASE("a position refused for a stale token stops the shard, unless it is already held again") {
  LeaseKeeper keeper(settings_for("a", 1));
  TimePoint now{Millis(1'000)};
  LeaseActions out;
  keeper.on_tick(now, out);
  out.clear();
  keeper.on_claim_result(0, ClaimReply{7, "a"}, now, out);
  out.clear();
  keeper.on_position_refused(0, 6, now, out);  // an answer about an older lease of ours
  CHECK(out.empty());
  CHECK(keeper.holds(0, now));
  keeper.on_position_refused(0, 7, now, out);
  REQUIRE_FALSE(out.empty());
  CHECK(std::get<StopShard>(out.at(0)).reason == StopReason::lease_lost);
  CHECK_FALSE(keeper.holds(0, now));
  out.clear();
  keeper.on_position_refused(0, 7, now, out);  // a second refusal of the same lease: already stopped
  CHECK(out.empty());
}

TEST_CASE("a claim answered too late to use is released, never started") {
  LeaseKeeper keeper(settings_for("a", 1));
  TimePoint now{Millis(1'000)};
  LeaseActions out;
  keeper.on_tick(now, out);
  out.clear();
  now += k_lease - Millis(1'000);  // inside the margin
  keeper.on_claim_result(0, ClaimReply{3, "a"}, now, out);
  REQUIRE_FALSE(out.empty());
  CHECK(std::get<ReleaseShard>(out[0]).token == 3);
  for (const auto& action : out) {
    CHECK_FALSE(std::holds_alternative<StartShard>(action));
  }
  CHECK(keeper.held_count() == 0);
}

TEST_CASE("the next deadline is the earliest renewal, stop or claim due") {
  LeaseKeeper keeper(settings_for("a", 2));
  TimePoint now{Millis(1'000)};
  LeaseActions out;
  keeper.on_tick(now, out);
  REQUIRE(out.size() == 2);
  out.clear();
  keeper.on_claim_result(0, ClaimReply{1, "a"}, now, out);
  keeper.on_claim_result(1, ClaimReply{4, "b"}, now, out);
  // Shard 1 is b's: polled again after a renew period, as is shard 0's renewal.
  REQUIRE(keeper.next_deadline());
  CHECK(*keeper.next_deadline() == now + k_lease / 3);
}
