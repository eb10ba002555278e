#include <catch2/catch.hpp>

#include "orchestrator_harness.hpp"

using namespace std::chrono_literals;
namespace gw = relay::gateway;
using relay::test::Harness;
using relay::test::info;
using relay::test::k_window;
using relay::util::Millis;

namespace {

gw::OrchestratorSettings leased(unsigned shards = 4) {
  auto s = relay::test::settings();
  s.leased = true;
  s.shards = shards;
  return s;
}

std::vector<unsigned> stopped(const Harness& h) {
  std::vector<unsigned> indexes;
  for (const auto& stop : h.taken<gw::StopShard>()) {
    indexes.push_back(stop.index);
  }
  return indexes;
}

gw::SavedSession position(std::string session_id, std::uint64_t seq) {
  return gw::SavedSession{gw::ShardId{99, 99}, std::move(session_id), seq};
}

}  // namespace

TEST_CASE("a leased layout starts with no shard, ignores saved sessions and never waits for the quota") {
  auto s = leased();
  s.saved_sessions = {gw::SavedSession{gw::ShardId{0, 4}, "old", 5}};
  Harness h(s);
  REQUIRE(h.orchestrator.saved_sessions().empty());
  h.start(info(1, 0, 1, 10'000));  // no session start left today
  REQUIRE(h.taken<gw::DiscoveryDelayed>().empty());
  const auto layout = h.taken<gw::StartLayout>();
  REQUIRE(layout.size() == 1);
  REQUIRE(layout[0].count == 4);
  REQUIRE(layout[0].discarded_sessions == 0);
  REQUIRE(h.started().empty());
  REQUIRE(h.orchestrator.layout_count() == 4);
}

TEST_CASE("shards owned before the layout start with it, with their positions") {
  Harness h(leased());
  h.orchestrator.own_shard(2, position("s2", 41), h.now, h.actions);
  h.orchestrator.own_shard(0, std::nullopt, h.now, h.actions);
  h.orchestrator.own_shard(2, std::nullopt, h.now, h.actions);  // already owned: kept as it was
  h.orchestrator.own_shard(7, std::nullopt, h.now, h.actions);  // outside the configured count
  REQUIRE(h.started().empty());
  h.start(info(1, 0));
  const auto starts = h.taken<gw::StartShard>();
  REQUIRE(h.started() == std::vector<unsigned>{0, 2});
  REQUIRE_FALSE(starts[0].resume);
  REQUIRE(starts[1].resume);
  REQUIRE(starts[1].resume->session_id == "s2");
  REQUIRE(starts[1].resume->seq == 41);
  REQUIRE(starts[1].resume->shard.index == 2);
  REQUIRE(starts[1].resume->shard.count == 4);
  REQUIRE(starts[1].shard.count == 4);
  REQUIRE_FALSE(h.orchestrator.owns_shard(7));
}

TEST_CASE("shards owned while a layout runs start at once, once, and disowned ones stop") {
  Harness h(leased());
  h.start(info(4));
  h.clear();
  h.orchestrator.own_shard(1, std::nullopt, h.now, h.actions);
  h.orchestrator.own_shard(3, position("s3", 9), h.now, h.actions);
  h.orchestrator.own_shard(1, position("late", 1), h.now, h.actions);  // running: no-op
  h.orchestrator.own_shard(4, std::nullopt, h.now, h.actions);         // not in the layout
  REQUIRE(h.started() == std::vector<unsigned>{1, 3});
  REQUIRE(h.taken<gw::StartShard>()[1].resume->session_id == "s3");
  h.clear();
  h.orchestrator.disown_shard(1, h.actions);
  h.orchestrator.disown_shard(1, h.actions);  // no longer owned: nothing
  h.orchestrator.disown_shard(0, h.actions);  // never owned: nothing
  REQUIRE(stopped(h) == std::vector<unsigned>{1});
  REQUIRE(h.actions.size() == 1);
  REQUIRE_FALSE(h.orchestrator.owns_shard(1));
  REQUIRE(h.orchestrator.owns_shard(3));
  // Owned again (another relay handed it back): a new start, resuming.
  h.clear();
  h.orchestrator.own_shard(1, position("s1", 77), h.now, h.actions);
  REQUIRE(h.started() == std::vector<unsigned>{1});
  REQUIRE(h.taken<gw::StartShard>()[0].resume->seq == 77);
}

TEST_CASE("a shard disowned before the layout starts never starts") {
  Harness h(leased());
  h.orchestrator.own_shard(0, std::nullopt, h.now, h.actions);
  h.orchestrator.own_shard(1, std::nullopt, h.now, h.actions);
  h.orchestrator.disown_shard(0, h.actions);
  REQUIRE(h.actions.empty());  // nothing ran: no StopShard
  h.start(info(4));
  REQUIRE(h.started() == std::vector<unsigned>{1});
}

TEST_CASE("a disowned shard leaves the identify queue") {
  Harness h(leased());
  h.start(info(4));
  for (unsigned index : {0u, 1u, 2u}) {
    h.orchestrator.own_shard(index, std::nullopt, h.now, h.actions);
    h.orchestrator.on_identify_requested(index, h.now);
  }
  h.clear();
  h.orchestrator.disown_shard(1, h.actions);
  h.advance(10 * k_window);
  REQUIRE(h.permitted() == std::vector<unsigned>{0, 2});
}

TEST_CASE(
    "4011 in leased mode keeps the layout and restarts only that shard with a new session after a delay") {
  Harness h(leased());
  h.start(info(4));
  h.orchestrator.own_shard(1, position("s1", 3), h.now, h.actions);
  h.orchestrator.own_shard(2, std::nullopt, h.now, h.actions);
  h.clear();
  h.orchestrator.on_reshard_requested(1, h.now, h.actions);
  h.orchestrator.on_reshard_requested(1, h.now, h.actions);  // already waiting: one restart
  const auto refused = h.taken<gw::ReshardRefused>();
  REQUIRE(refused.size() == 1);
  REQUIRE(refused[0].index == 1);
  REQUIRE(refused[0].count == 4);
  REQUIRE(refused[0].retry_in >= Millis(5'000));
  REQUIRE(h.orchestrator.next_deadline() == h.now + refused[0].retry_in);
  h.clear();
  h.advance(refused[0].retry_in - 1ms);
  REQUIRE(h.actions.empty());  // never at once: not inside the shard's own call, and not in a loop
  h.advance(1ms);
  REQUIRE(h.taken<gw::StopShards>().empty());
  REQUIRE(h.fetches(gw::InfoPurpose::discovery) == 0);
  REQUIRE(stopped(h) == std::vector<unsigned>{1});
  const auto starts = h.taken<gw::StartShard>();
  REQUIRE(starts.size() == 1);
  REQUIRE(starts[0].shard.index == 1);
  REQUIRE(starts[0].shard.count == 4);
  REQUIRE_FALSE(starts[0].resume);
  // The StopShard comes before the StartShard: the driver replaces the shard.
  REQUIRE(std::holds_alternative<gw::StopShard>(h.actions[0]));
  REQUIRE(h.orchestrator.layout_count() == 4);
  REQUIRE(h.orchestrator.owns_shard(1));
  // A second 4011 waits at least as long again.
  h.clear();
  h.orchestrator.on_reshard_requested(1, h.now, h.actions);
  REQUIRE(h.taken<gw::ReshardRefused>().at(0).retry_in >= Millis(5'000));
}

TEST_CASE("a shard disowned while waiting to restart after 4011 is not restarted") {
  Harness h(leased());
  h.start(info(4));
  h.orchestrator.own_shard(0, std::nullopt, h.now, h.actions);
  h.orchestrator.on_reshard_requested(0, h.now, h.actions);
  h.clear();
  h.orchestrator.disown_shard(0, h.actions);
  REQUIRE(stopped(h) == std::vector<unsigned>{0});
  h.clear();
  h.advance(600'000ms);
  REQUIRE(h.actions.empty());
  REQUIRE_FALSE(h.orchestrator.next_deadline());
}

TEST_CASE("without leased mode own_shard and disown_shard change nothing") {
  Harness h;
  h.start(info(2));
  h.clear();
  h.orchestrator.own_shard(1, std::nullopt, h.now, h.actions);
  h.orchestrator.disown_shard(0, h.actions);
  REQUIRE(h.actions.empty());
}

TEST_CASE("after shutdown a leased shard is not started") {
  Harness h(leased());
  h.orchestrator.own_shard(0, std::nullopt, h.now, h.actions);
  h.orchestrator.shutdown(h.actions);
  h.clear();
  h.orchestrator.on_token(h.now, h.actions);
  h.orchestrator.own_shard(1, std::nullopt, h.now, h.actions);
  h.orchestrator.on_discovered(info(4), h.now, h.actions);
  REQUIRE(h.actions.empty());
}
