// ClusterCoordinators on one event loop sharing a real redis-server, with handlers that record what they were
// told, and a plain connection through which a test reads or breaks Redis' state behind their backs.
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../support/run_loop.hpp"
#include "cluster/cluster_coordinator.hpp"
#include "loop_steps.hpp"
#include "redis_server.hpp"

namespace relay::test {

using cluster::ClusterCoordinator;
using cluster::StopReason;
using cluster::StoredPosition;
using util::Millis;

inline constexpr Millis k_lease{1200};

struct RecordingHandler : cluster::ClusterHandler {
  std::map<unsigned, std::optional<StoredPosition>> running;
  std::vector<std::pair<unsigned, std::optional<StoredPosition>>> acquired;
  std::vector<std::pair<unsigned, StopReason>> released;

  void on_shard_acquired(unsigned shard, const std::optional<StoredPosition>& position) override {
    running[shard] = position;
    acquired.emplace_back(shard, position);
  }
  void on_shard_released(unsigned shard, StopReason reason) override {
    running.erase(shard);
    released.emplace_back(shard, reason);
  }
  std::size_t released_for(StopReason reason) const {
    std::size_t count = 0;
    for (const auto& [shard, why] : released) {
      count += why == reason ? 1 : 0;
    }
    return count;
  }
};

struct Node {
  RecordingHandler handler;
  std::unique_ptr<ClusterCoordinator> coordinator;
  ClusterCoordinator* operator->() { return coordinator.get(); }
};

inline cluster::ClusterSettings settings_for(const RedisServer& server, std::string node, unsigned shards,
                                             Millis lease = k_lease) {
  cluster::ClusterSettings settings;
  settings.redis = util::parse_redis_url(server.url()).value();
  settings.node = std::move(node);
  settings.lease = lease;
  settings.key_prefix = "test:";
  settings.app_id = "app";
  settings.shard_count = shards;
  settings.dedupe = Millis(60'000);
  settings.command_timeout = Millis(500);
  settings.reconnect = cluster::RedisOptions{Millis(20), Millis(200)};
  return settings;
}

// `count` started nodes named a, b, c...
inline std::vector<std::unique_ptr<Node>> start_nodes(ingress::EventLoop& loop, const RedisServer& server,
                                                      std::size_t count, unsigned shards,
                                                      Millis lease = k_lease) {
  std::vector<std::unique_ptr<Node>> nodes;
  for (std::size_t i = 0; i < count; ++i) {
    auto node = std::make_unique<Node>();
    node->coordinator = std::make_unique<ClusterCoordinator>(
        loop, settings_for(server, std::string(1, static_cast<char>('a' + i)), shards, lease), node->handler);
    nodes.push_back(std::move(node));
  }
  for (auto& node : nodes) {
    node->coordinator->start();
  }
  return nodes;
}

// Shard -> how many live nodes run it.
inline std::map<unsigned, int> runners(const std::vector<std::unique_ptr<Node>>& nodes) {
  std::map<unsigned, int> count;
  for (const auto& node : nodes) {
    if (node->coordinator) {
      for (const auto& [shard, position] : node->handler.running) {
        ++count[shard];
      }
    }
  }
  return count;
}

// Every shard run by exactly one node.
inline bool all_run_once(const std::vector<std::unique_ptr<Node>>& nodes, unsigned shards) {
  const auto count = runners(nodes);
  if (count.size() != shards) {
    return false;
  }
  for (const auto& [shard, n] : count) {
    if (n != 1) {
      return false;
    }
  }
  return true;
}

// The plain connection of the test: commands pipelined, answers collected in order.
struct Probe {
  explicit Probe(ingress::EventLoop& loop, const RedisServer& server)
      : redis(loop, util::parse_redis_url(server.url()).value(),
              cluster::RedisOptions{Millis(20), Millis(200)}) {}
  cluster::RedisConnection redis;
  std::size_t sent = 0;
  std::vector<cluster::CommandResult> answers;

  void send(std::vector<std::string> argv) {
    ++sent;
    redis.command(
        std::move(argv), [this](cluster::CommandResult result) { answers.push_back(std::move(result)); },
        Millis(2000));
  }
  bool answered() const { return answers.size() == sent; }
  const cluster::RedisReply& reply(std::size_t i) const { return answers.at(i).value(); }
  const cluster::RedisReply& reply() const { return answers.back().value(); }
};

// Runs the steps on the loop, checking `invariant` at every poll; fails the test when a step does not come.
inline void run_steps(
    ingress::EventLoop& loop, Steps& steps, std::chrono::milliseconds limit,
    const std::function<void()>& invariant = [] {}) {
  const bool finished = run_loop_until(
      loop,
      [&] {
        invariant();
        return steps();
      },
      limit);
  INFO("stopped at step " << steps.done);
  REQUIRE(finished);
}

inline Millis since(const ingress::EventLoop& loop, util::TimePoint then) {
  return std::chrono::duration_cast<Millis>(loop.now() - then);
}

}  // namespace relay::test
