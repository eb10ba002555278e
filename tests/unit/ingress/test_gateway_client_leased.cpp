#include <catch2/catch.hpp>

#include <map>

#include "../support/run_loop.hpp"
#include "gateway_sim.hpp"
#include "ingress/gateway_client.hpp"

namespace gw = relay::gateway;
using relay::ingress::EventLoop;
using relay::ingress::GatewayClient;
using relay::ingress::GatewaySettings;
using relay::ingress::SessionPosition;
using relay::test::GatewaySim;
using relay::test::Script;
using relay::test::SimControl;
using relay::util::Millis;

namespace {

struct RecordingSink final : relay::ingress::EventSink {
  void on_dispatch(const gw::ShardId& shard, std::string_view, const gw::Publish& event,
                   std::int64_t) override {
    if (event.event_type == "PROBE") {
      ++probes[shard.index];
    }
  }
  void on_shard_state(const gw::ShardId& shard, std::string_view, const gw::StateChanged& change) override {
    states[shard.index].push_back(change.state);
  }
  void on_invalid_frame(const gw::ShardId&, std::optional<std::uint64_t>, std::string_view, std::size_t,
                        std::string_view) override {}
  void on_gateway_stopped(gw::StopCategory, const std::string&) override {}

  long count(unsigned index, gw::ShardState state) const {
    const auto found = states.find(index);
    return found == states.end() ? 0 : std::count(found->second.begin(), found->second.end(), state);
  }

  bool reached(unsigned index, gw::ShardState state) const {
    const auto found = states.find(index);
    return found != states.end() &&
           std::find(found->second.begin(), found->second.end(), state) != found->second.end();
  }

  std::map<unsigned, int> probes;
  std::map<unsigned, std::vector<gw::ShardState>> states;
};

GatewaySettings leased_settings(const GatewaySim& sim) {
  GatewaySettings s;
  s.app_id = "102000000";
  s.static_token = "T";
  s.api_base = sim.base();
  s.shards = 4;
  s.leased = true;
  s.identify_window = Millis(20);
  return s;
}

bool contains(const std::optional<std::string>& text, std::string_view part) {
  return text && text->find(part) != std::string::npos;
}

std::string probe(unsigned shard) {
  return R"({"shard":)" + std::to_string(shard) + R"(,"t":"PROBE","d":{}})";
}

}  // namespace

TEST_CASE(
    "leased shards of a 4-shard layout: only owned ones identify, a disowned one stops keeping its "
    "session and resumes when owned again") {
  GatewaySim sim({"--shards", "4", "--bot-token", "T"});
  EventLoop loop;
  RecordingSink sink;
  auto settings = leased_settings(sim);
  std::vector<std::uint64_t> quotas;
  settings.on_quota = [&](std::uint64_t remaining, Millis) { quotas.push_back(remaining); };
  GatewayClient client(loop, settings, sink);
  SimControl control(loop, sim.base());
  client.start();
  client.own_shard(1, std::nullopt);
  client.own_shard(3, std::nullopt);

  std::optional<SessionPosition> saved;
  int probes_before_disown = 0;
  Script script;
  script.then(
      "shards 1 and 3 ready",
      [&] { return sink.reached(1, gw::ShardState::ready) && sink.reached(3, gw::ShardState::ready); },
      [&] { control.get("/_sim/state"); });
  script.then(
      "the simulator's state", [&] { return control.answer().has_value(); },
      [&] {
        CHECK(contains(control.answer(), R"("sessions":2,"identifies":2,)"));
        CHECK(client.shard_indexes() == std::vector<unsigned>{1, 3});
        CHECK(client.session(0) == nullptr);
        REQUIRE(client.session(3) != nullptr);
        CHECK(client.session(3)->shard().index == 3);
        CHECK(client.session(3)->shard().count == 4);
        CHECK(quotas == std::vector<std::uint64_t>{1000});
        control.post("/_sim/send", probe(3));
      });
  script.then(
      "shard 3's probe", [&] { return sink.probes[3] == 1; },
      [&] {
        for (const auto& position : client.positions()) {
          if (position.shard.index == 3) {
            saved = position;
          }
        }
        REQUIRE(saved);
        probes_before_disown = sink.probes[3];
        client.disown_shard(3);
        CHECK(client.shard_indexes() == std::vector<unsigned>{1});
        CHECK(client.session(3) == nullptr);
        const auto positions = client.positions();
        REQUIRE(positions.size() == 1);
        CHECK(positions[0].shard.index == 1);
        // Sent while the sim may still think shard 3 is connected: never published by this client.
        control.post("/_sim/send", probe(3));
      });
  script.then(
      "the late probe sent", [&] { return control.answer().has_value(); },
      [&] { control.post("/_sim/send", probe(1)); });
  script.then(
      "shard 1 still publishes", [&] { return sink.probes[1] == 1; },
      [&] {
        CHECK(sink.probes[3] == probes_before_disown);
        control.get("/_sim/log");
      });
  script.then(
      "the simulator saw shard 3's socket close with 4000",
      [&] {
        if (!control.answer()) {
          return false;
        }
        if (contains(control.answer(), R"("code":4000)")) {
          return true;
        }
        control.get("/_sim/log");
        return false;
      },
      [&] {
        CHECK_FALSE(contains(control.answer(), R"("code":1000)"));
        CHECK_FALSE(contains(control.answer(), R"("code":1001)"));
        CHECK(sink.probes[3] == probes_before_disown);
        client.own_shard(3, saved);
      });
  script.then(
      "shard 3 resumed, with the probe it missed",
      [&] { return sink.reached(3, gw::ShardState::resumed) && sink.probes[3] == probes_before_disown + 1; },
      [&] { control.get("/_sim/state"); });
  script.then(
      "one resume, no new identify", [&] { return control.answer().has_value(); },
      [&] {
        CHECK(contains(control.answer(), R"("identifies":2,"resumes":1,)"));
        CHECK(client.shard_indexes() == std::vector<unsigned>{1, 3});
        client.shutdown();
      });

  const bool finished = relay::test::run_loop_until(
      loop, [&] { return script.advance(); }, std::chrono::seconds(20));
  INFO("waiting for: " << script.waiting_for());
  REQUIRE(finished);
}

TEST_CASE(
    "the identify gate holds each Identify until proceed, and a late proceed for a replaced shard does "
    "nothing") {
  GatewaySim sim({"--shards", "4", "--bot-token", "T"});
  EventLoop loop;
  RecordingSink sink;
  auto settings = leased_settings(sim);
  std::vector<std::function<void()>> proceeds;
  std::vector<unsigned> gated;
  settings.identify_gate = [&](unsigned index, unsigned max_concurrency, Millis window,
                               std::function<void()> proceed) {
    CHECK(max_concurrency == 1);
    CHECK(window == Millis(20));
    gated.push_back(index);
    proceeds.push_back(std::move(proceed));
  };
  GatewayClient client(loop, settings, sink);
  SimControl control(loop, sim.base());
  client.start();
  client.own_shard(2, std::nullopt);

  Script script;
  script.then(
      "the gate is asked", [&] { return proceeds.size() == 1; },
      [&] {
        REQUIRE(client.session(2) != nullptr);
        CHECK(client.session(2)->phase() == gw::Phase::waiting_identify_slot);
        // Replaced before the gate answered: the old answer must not let the new shard identify.
        client.disown_shard(2);
        client.own_shard(2, std::nullopt);
      });
  script.then(
      "the gate is asked for the new shard", [&] { return proceeds.size() == 2; },
      [&] {
        proceeds[0]();
        REQUIRE(client.session(2) != nullptr);
        CHECK(client.session(2)->phase() == gw::Phase::waiting_identify_slot);
        control.get("/_sim/state");
      });
  script.then(
      "no identify yet", [&] { return control.answer().has_value(); },
      [&] {
        CHECK(contains(control.answer(), R"("identifies":0,)"));
        proceeds[1]();
        CHECK(client.session(2)->phase() == gw::Phase::identifying);
      });
  script.then(
      "ready once the gate let it through", [&] { return sink.reached(2, gw::ShardState::ready); },
      [&] {
        CHECK(gated == std::vector<unsigned>{2, 2});
        client.shutdown();
      });

  const bool finished = relay::test::run_loop_until(
      loop, [&] { return script.advance(); }, std::chrono::seconds(20));
  INFO("waiting for: " << script.waiting_for());
  REQUIRE(finished);
}

TEST_CASE("4011 on a leased shard keeps the layout and the other shards, and identifies that shard again") {
  GatewaySim sim({"--shards", "4", "--bot-token", "T"});
  EventLoop loop;
  RecordingSink sink;
  GatewayClient client(loop, leased_settings(sim), sink);
  SimControl control(loop, sim.base());
  client.start();
  client.own_shard(0, std::nullopt);
  client.own_shard(1, std::nullopt);

  Script script;
  script.then(
      "shards 0 and 1 ready",
      [&] { return sink.reached(0, gw::ShardState::ready) && sink.reached(1, gw::ShardState::ready); },
      [&] { control.post("/_sim/fault", R"({"shard":1,"kind":"close","code":4011})"); });
  script.then(
      "shard 1 closed with 4011", [&] { return sink.reached(1, gw::ShardState::disconnected); },
      [&] {
        CHECK(client.counters().close_codes.at(4011) == 1);
        CHECK(client.shard_indexes() == std::vector<unsigned>{0, 1});
      });
  script.then(
      "shard 1 identified again", [&] { return sink.count(1, gw::ShardState::ready) == 2; },
      [&] { control.get("/_sim/state"); });
  script.then(
      "same layout, shard 0 untouched", [&] { return control.answer().has_value(); },
      [&] {
        CHECK(contains(control.answer(), R"("identifies":3,)"));
        CHECK(client.counters().discoveries == 1);
        CHECK(sink.count(0, gw::ShardState::disconnected) == 0);
        CHECK(client.shard_indexes() == std::vector<unsigned>{0, 1});
        REQUIRE(client.session(1) != nullptr);
        CHECK(client.session(1)->shard().count == 4);
        client.shutdown();
      });

  const bool finished = relay::test::run_loop_until(
      loop, [&] { return script.advance(); }, std::chrono::seconds(30));
  INFO("waiting for: " << script.waiting_for());
  REQUIRE(finished);
}
