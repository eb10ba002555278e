#pragma once

#include <catch2/catch.hpp>

#include "gateway/shard_orchestrator.hpp"

namespace relay::test {

namespace gw = relay::gateway;
using relay::util::Millis;
using relay::util::TimePoint;

inline constexpr Millis k_window{100};

inline gw::OrchestratorSettings settings() {
  gw::OrchestratorSettings s;
  s.api_tls = false;  // the simulator's ws:// gateway
  s.identify_window = k_window;
  s.random_seed = 7;
  return s;
}

inline relay::protocol::GatewayInfo info(unsigned shards, std::uint64_t remaining = 1000,
                                         unsigned max_concurrency = 1,
                                         std::uint64_t reset_after_ms = 86'400'000) {
  return {"ws://127.0.0.1:9/gateway", shards, 1000, remaining, reset_after_ms, max_concurrency};
}

// Drives a ShardOrchestrator the way GatewayClient does, with a fake clock, and keeps every action.
struct Harness {
  explicit Harness(gw::OrchestratorSettings s = settings()) : orchestrator(std::move(s)) {}

  TimePoint now{std::chrono::hours(1)};
  gw::ShardOrchestrator orchestrator;
  gw::OrchestratorActions actions;

  // Fires the orchestrator's timer every time it falls due up to now + by.
  void advance(Millis by) {
    const auto end = now + by;
    for (int ticks = 0; auto deadline = orchestrator.next_deadline(); ++ticks) {
      if (*deadline > end) {
        break;
      }
      REQUIRE(ticks < 10'000);  // a deadline that never moves on
      now = std::max(now, *deadline);
      orchestrator.on_tick(now, actions);
    }
    now = end;
  }

  // Token, discovery and the answer: a running layout.
  void start(const relay::protocol::GatewayInfo& answer) {
    orchestrator.on_token(now, actions);
    REQUIRE(fetches(gw::InfoPurpose::discovery) == 1);
    orchestrator.on_discovered(answer, now, actions);
  }

  template <typename T>
  std::vector<T> taken() const {
    std::vector<T> found;
    for (const auto& action : actions) {
      if (const auto* typed = std::get_if<T>(&action)) {
        found.push_back(*typed);
      }
    }
    return found;
  }
  std::size_t fetches(gw::InfoPurpose purpose) const {
    std::size_t count = 0;
    for (const auto& fetch : taken<gw::FetchGatewayInfo>()) {
      count += fetch.purpose == purpose;
    }
    return count;
  }
  std::vector<unsigned> started() const {
    std::vector<unsigned> indexes;
    for (const auto& start : taken<gw::StartShard>()) {
      indexes.push_back(start.shard.index);
    }
    return indexes;
  }
  std::vector<unsigned> permitted() const {
    std::vector<unsigned> indexes;
    for (const auto& permit : taken<gw::PermitIdentify>()) {
      indexes.push_back(permit.index);
    }
    return indexes;
  }
  void clear() { actions.clear(); }
};

}  // namespace relay::test
