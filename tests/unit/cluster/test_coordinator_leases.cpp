// ClusterCoordinator's leases against a real redis-server: splitting, takeover after a crash, fencing,
// graceful handover, Redis stopped and Redis losing its data.
#include <catch2/catch.hpp>

#include <algorithm>

#include "coordinator_fixture.hpp"

using namespace relay::test;
using relay::ingress::EventLoop;
using relay::util::TimePoint;

namespace {

// Fails the test if a shard ever runs on two nodes at once.
auto no_overlap(const std::vector<std::unique_ptr<Node>>& nodes) {
  return [&nodes] {
    for (const auto& [shard, n] : runners(nodes)) {
      INFO("shard " << shard);
      REQUIRE(n == 1);
    }
  };
}

std::string session_of(unsigned shard) {
  return "session-" + std::to_string(shard);
}

}  // namespace

TEST_CASE("cluster: two coordinators split four shards two each, never both running one") {
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 2, 4);
  Steps steps{{
      [&] {
        return all_run_once(nodes, 4) && nodes[0]->handler.running.size() == 2 &&
               nodes[1]->handler.running.size() == 2 && (*nodes[0])->live_nodes() == 2 &&
               (*nodes[1])->live_nodes() == 2;
      },
  }};
  run_steps(loop, steps, std::chrono::seconds(10), no_overlap(nodes));
  for (auto& node : nodes) {
    CHECK((*node)->held_count() == 2);
    CHECK((*node)->redis_connected());
    for (const auto& [shard, position] : node->handler.running) {
      CHECK((*node)->holds(shard));
      CHECK_FALSE(position.has_value());  // nothing was ever stored
    }
  }
}

TEST_CASE("cluster: a killed coordinator's shards resume on the others from the position it saved") {
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 3, 4);
  std::size_t victim = 0;
  std::map<unsigned, std::uint64_t> victim_tokens;
  TimePoint killed_at{};
  relay::util::Millis takeover{};
  Steps steps{{
      // Settled: the first node took all four while alone, and handed two over one by one (fair share 2).
      [&] {
        return all_run_once(nodes, 4) && std::all_of(nodes.begin(), nodes.end(), [](const auto& node) {
                 return node->handler.running.size() <= 2;
               });
      },
      [&] {
        for (auto& node : nodes) {
          for (const auto& [shard, position] : node->handler.running) {
            (*node)->save_position(shard, session_of(shard), 100 + shard, 7);
          }
        }
        return true;
      },
      [&] {
        std::uint64_t saved = 0;
        for (auto& node : nodes) {
          saved += (*node)->counters().positions_saved;
        }
        return saved == 4;
      },
      [&] {
        // kill -9 of the node running the most shards: no release, no goodbye.
        for (std::size_t i = 0; i < nodes.size(); ++i) {
          if (nodes[i]->handler.running.size() > nodes[victim]->handler.running.size()) {
            victim = i;
          }
        }
        for (const auto& [shard, position] : nodes[victim]->handler.running) {
          victim_tokens[shard] = 0;
        }
        nodes[victim]->coordinator.reset();
        killed_at = loop.now();
        return true;
      },
      [&] {
        takeover = since(loop, killed_at);
        return all_run_once(nodes, 4);
      },
  }};
  run_steps(loop, steps, std::chrono::seconds(20), no_overlap(nodes));
  WARN("takeover after " << takeover.count() << " ms");
  INFO("takeover after " << takeover.count() << " ms");
  CHECK(takeover <= k_lease + relay::util::Millis(2000));
  REQUIRE_FALSE(victim_tokens.empty());
  for (const auto& [shard, unused] : victim_tokens) {
    bool resumed = false;
    for (const auto& node : nodes) {
      if (!node->coordinator || node->handler.running.count(shard) == 0) {
        continue;
      }
      const auto& position = node->handler.running.at(shard);
      REQUIRE(position.has_value());
      CHECK(position->session_id == session_of(shard));
      CHECK(position->seq == 100 + shard);
      CHECK(position->relay_seq == 7);
      CHECK(position->token >= 1);
      resumed = true;
    }
    CHECK(resumed);
  }
}

TEST_CASE("cluster: a position written with the token of a lost lease is refused and stops the shard") {
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 1, 1);
  Node& a = *nodes[0];
  Probe probe(loop, server);
  const std::string lease = "test:app:{shard:0/1}:lease";
  const std::string fence = "test:app:{shard:0/1}:fence";
  const std::string position = "test:app:{shard:0/1}:position";
  // A newer owner has a newer token; after Redis lost its data the counter starts again below the old tokens,
  // and only the live lease tells that a is not the owner any more.
  std::string intruder = "99 intruder";
  std::vector<std::string> newer_fence{"INCR", fence};
  SECTION("a newer fencing token") {}
  SECTION("Redis lost its data: only another live lease") {
    intruder = "1 intruder";
    newer_fence = {"PING"};
  }
  Steps steps{{
      [&] { return a.handler.running.count(0) == 1; },
      [&] {
        a->save_position(0, "first", 10, 1);
        return true;
      },
      [&] { return a->counters().positions_saved == 1; },
      // Another relay takes the shard over (as after a partition): a new lease with a newer token.
      [&] {
        probe.send({"SET", lease, intruder, "PX", "60000"});
        return true;
      },
      [&] { return probe.answered(); },
      [&] {
        probe.send(newer_fence);
        return true;
      },
      [&] { return probe.answered(); },
      [&] {
        REQUIRE(a->holds(0));  // a has not noticed yet: its lease looks valid to it
        a->save_position(0, "stale", 11, 2);
        return true;
      },
      [&] { return a->counters().positions_refused == 1 && a.handler.running.empty(); },
      [&] {
        probe.send({"HGET", position, "seq"});
        return true;
      },
      [&] { return probe.answered(); },
  }};
  run_steps(loop, steps, std::chrono::seconds(10));
  CHECK(probe.reply().text == "10");  // unchanged
  REQUIRE(a.handler.released.size() == 1);
  CHECK(a.handler.released[0].second == StopReason::lease_lost);
  CHECK(a->counters().lost == 1);
  CHECK_FALSE(a->holds(0));
}

TEST_CASE("cluster: a graceful shutdown releases at once and the other resumes the sessions") {
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 2, 4);
  Node& a = *nodes[0];
  Node& b = *nodes[1];
  Probe probe(loop, server);
  std::vector<unsigned> a_shards;
  TimePoint shutdown_at{};
  relay::util::Millis done_after{-1};
  Steps steps{{
      [&] { return all_run_once(nodes, 4) && a.handler.running.size() == 2; },
      [&] {
        for (auto& node : nodes) {
          for (const auto& [shard, position] : node->handler.running) {
            (*node)->save_position(shard, session_of(shard), 50 + shard, 1);
          }
        }
        return true;
      },
      [&] { return a->counters().positions_saved + b->counters().positions_saved == 4; },
      [&] {
        for (const auto& [shard, position] : a.handler.running) {
          a_shards.push_back(shard);
        }
        shutdown_at = loop.now();
        a->shutdown([&] { done_after = since(loop, shutdown_at); });
        return true;
      },
      // Right when done() ran, the leases are gone from Redis (or already b's), and a left the node set.
      [&] { return done_after.count() >= 0; },
      [&] {
        std::vector<std::string> mget{"MGET"};
        for (const unsigned shard : a_shards) {
          mget.push_back("test:app:{shard:" + std::to_string(shard) + "/4}:lease");
        }
        probe.send(std::move(mget));
        probe.send({"ZSCORE", "test:app:nodes", "a"});
        return true;
      },
      [&] { return probe.answered(); },
      [&] { return b.handler.running.size() == 4; },
  }};
  run_steps(loop, steps, std::chrono::seconds(15), no_overlap(nodes));
  CHECK(done_after <= relay::util::Millis(500));                        // within one command timeout
  CHECK(probe.reply(1).kind == relay::cluster::RedisReply::Kind::nil);  // a's heartbeat is gone
  const auto& leases = probe.reply(0).elements;
  REQUIRE(leases.size() == a_shards.size());
  for (const auto& lease : leases) {
    INFO(lease.text);
    CHECK((lease.kind == relay::cluster::RedisReply::Kind::nil || lease.text.ends_with(" b")));
  }
  CHECK(a.handler.released_for(StopReason::shutdown) == a_shards.size());
  CHECK(a->counters().released == a_shards.size());
  for (const unsigned shard : a_shards) {
    const auto& position = b.handler.running.at(shard);
    REQUIRE(position.has_value());
    CHECK(position->session_id == session_of(shard));
    CHECK(position->seq == 50 + shard);
  }
}

TEST_CASE("cluster: with Redis stopped the shards stop when their leases run out, and come back after") {
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 1, 2);
  Node& a = *nodes[0];
  TimePoint killed_at{};
  relay::util::Millis stopped_after{};
  Steps steps{{
      [&] { return a.handler.running.size() == 2; },
      [&] {
        server.kill();
        killed_at = loop.now();
        return true;
      },
      [&] {
        stopped_after = since(loop, killed_at);
        return a.handler.running.empty();
      },
      [&] {
        CHECK_FALSE(a->redis_connected());
        server.start();  // without persistence: every key is gone
        return true;
      },
      [&] { return a.handler.running.size() == 2; },
  }};
  run_steps(loop, steps, std::chrono::seconds(20));
  INFO("stopped " << stopped_after.count() << " ms after Redis");
  CHECK(stopped_after <= k_lease);
  CHECK(a.handler.released_for(StopReason::lease_expiring) == 2);
  CHECK(a->counters().expiring == 2);
  REQUIRE(a.handler.acquired.size() == 4);
  CHECK_FALSE(a.handler.acquired[2].second.has_value());
  CHECK_FALSE(a.handler.acquired[3].second.has_value());
  CHECK(a->counters().positions_missing == 4);
  CHECK(a->redis_connected());
  CHECK(a->redis_counters().reconnects >= 1);
}

TEST_CASE("cluster: after FLUSHALL the lease is lost, claimed again, and the shard identifies") {
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 1, 1);
  Node& a = *nodes[0];
  Probe probe(loop, server);
  Steps steps{{
      [&] { return a.handler.running.size() == 1; },
      [&] {
        a->save_position(0, "before", 5, 5);
        return true;
      },
      [&] { return a->counters().positions_saved == 1; },
      [&] {
        probe.send({"FLUSHALL"});
        return true;
      },
      [&] { return probe.answered(); },
      [&] { return a.handler.acquired.size() == 2 && a.handler.running.size() == 1; },
  }};
  run_steps(loop, steps, std::chrono::seconds(10));
  REQUIRE(a.handler.released.size() == 1);
  CHECK(a.handler.released[0].second == StopReason::lease_lost);
  CHECK_FALSE(a.handler.acquired[1].second.has_value());
  CHECK(a->counters().positions_missing == 2);
  CHECK(a->holds(0));
}
