#include <catch2/catch.hpp>

#include "gateway/close_codes.hpp"
#include "session_harness.hpp"

using namespace std::chrono_literals;
using relay::gateway::close_rule;
using relay::gateway::CloseAction;
using relay::gateway::Phase;
using relay::gateway::StopCategory;
using relay::test::SessionHarness;
namespace gw = relay::gateway;

TEST_CASE("the close-code table follows SPEC section 7") {
  struct Row {
    int code;
    CloseAction action;
    StopCategory category;
  };
  const Row rows[] = {
      {4000, CloseAction::resume, StopCategory::none},
      {4001, CloseAction::identify_bounded, StopCategory::other},
      {4002, CloseAction::identify_bounded, StopCategory::other},
      {4004, CloseAction::refresh_token, StopCategory::credentials},
      {4006, CloseAction::identify, StopCategory::none},
      {4007, CloseAction::identify, StopCategory::none},
      {4008, CloseAction::resume_after_pause, StopCategory::none},
      {4009, CloseAction::resume, StopCategory::none},
      {4010, CloseAction::stop, StopCategory::configuration},
      {4011, CloseAction::reshard, StopCategory::none},
      {4012, CloseAction::stop, StopCategory::other},
      {4013, CloseAction::stop, StopCategory::configuration},
      {4014, CloseAction::stop, StopCategory::configuration},
      {4900, CloseAction::identify, StopCategory::none},
      {4907, CloseAction::identify, StopCategory::none},
      {4913, CloseAction::identify, StopCategory::none},
      {4914, CloseAction::stop, StopCategory::credentials},
      {4915, CloseAction::stop, StopCategory::credentials},
      {1002, CloseAction::resume, StopCategory::none},
      {1005, CloseAction::resume, StopCategory::none},
      {1006, CloseAction::resume, StopCategory::none},
      {1007, CloseAction::resume, StopCategory::none},
      {1009, CloseAction::resume, StopCategory::none},
      {4999, CloseAction::resume, StopCategory::none},
  };
  for (const auto& row : rows) {
    INFO(row.code);
    REQUIRE(close_rule(row.code).action == row.action);
    REQUIRE(close_rule(row.code).category == row.category);
  }
}

TEST_CASE("4009 resumes at once, a lost connection backs off, then resumes") {
  SessionHarness h;
  h.ready("s", 1);
  h.clear();
  h.close(4009);
  h.advance(0ms);
  REQUIRE(h.taken<gw::Connect>().size() == 1);
  h.connect();
  h.frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
  REQUIRE(h.session.phase() == Phase::resuming);
  h.clear();
  h.close(1006);
  REQUIRE(h.session.phase() == Phase::waiting_to_reconnect);
  REQUIRE(*h.session.next_deadline() <=
          h.now + 2'000ms);  // the second attempt: base 1 s doubled, with jitter
}

TEST_CASE("4006 drops the session and identifies") {
  SessionHarness h;
  h.ready("s", 1);
  h.close(4006);
  REQUIRE(h.session.session_id().empty());
  h.reconnect();
  h.clear();
  h.frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
  REQUIRE(h.taken<gw::RequestIdentify>().size() == 1);
}

TEST_CASE("4014 stops the shard with one clear message naming the intents") {
  gw::SessionSettings settings;
  settings.intents = 1u | (1u << 9);
  SessionHarness h(settings);
  h.start();
  h.connect();
  h.frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
  h.permit();
  h.clear();
  h.close(4014);
  auto stopped = h.taken<gw::Stopped>();
  REQUIRE(stopped.size() == 1);
  REQUIRE(stopped[0].category == StopCategory::configuration);
  REQUIRE(
      stopped[0].message ==
      "shard 0/1 stopped: gateway closed with 4014 (intent not permitted): fix bot.intents: remove the "
      "intents "
      "this bot has not been granted, or apply for them (configured intents: GUILDS|GUILD_MESSAGES = 513)");
  REQUIRE(h.session.phase() == Phase::stopped);
  REQUIRE_FALSE(h.session.next_deadline());
}

TEST_CASE("a resume that keeps failing falls back to identify instead of looping") {
  SessionHarness h;
  h.ready("dead", 1);
  for (int attempt = 0; attempt < 3; ++attempt) {
    h.close(attempt == 0 ? 4009 : 1006);
    h.reconnect();
    h.frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
  }
  REQUIRE(h.session.phase() == Phase::resuming);
  h.close(1006);
  REQUIRE(h.session.session_id().empty());
  h.reconnect();
  h.clear();
  h.frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
  REQUIRE(h.taken<gw::RequestIdentify>().size() == 1);
}

TEST_CASE("op 7 closes without ending the session and resumes at once") {
  SessionHarness h;
  h.ready("s", 4);
  h.clear();
  h.frame(R"({"op":7,"d":false})");
  auto closes = h.taken<gw::Close>();
  REQUIRE(closes.size() == 1);
  REQUIRE(closes[0].code == gw::k_close_keep_session);
  REQUIRE(h.session.session_id() == "s");
  h.advance(0ms);
  REQUIRE(h.taken<gw::Connect>().size() == 1);
}

TEST_CASE("op 9 drops the session unless d is true") {
  SessionHarness h;
  h.ready("s", 4);
  h.frame(R"({"op":9,"d":true})");
  REQUIRE(h.session.session_id() == "s");
  h.reconnect();
  h.frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
  h.frame(R"({"op":9,"d":false})");
  REQUIRE(h.session.session_id().empty());
}
