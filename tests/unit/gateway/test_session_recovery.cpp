#include <catch2/catch.hpp>

#include "session_harness.hpp"

using namespace std::chrono_literals;
using relay::gateway::Phase;
using relay::gateway::StopCategory;
using relay::test::SessionHarness;
namespace gw = relay::gateway;

namespace {

constexpr const char* k_hello = R"({"op":10,"d":{"heartbeat_interval":45000}})";

// The relay never ends a session it wants to keep: 1000 and 1001 would make the platform drop it.
void require_session_kept_on_close(SessionHarness& h) {
  for (const auto& close : h.taken<gw::Close>()) {
    REQUIRE(close.code != 1000);
    REQUIRE(close.code != 1001);
  }
}

// How long after `h.now` the session's next Connect comes.
relay::util::Millis delay_until_connect(SessionHarness& h) {
  const auto from = h.now;
  h.reconnect();
  return std::chrono::duration_cast<relay::util::Millis>(h.now - from);
}

bool sent_resume(SessionHarness& h) {
  for (const auto& text : h.sent()) {
    if (text.starts_with(R"({"op":6)")) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("4008 keeps the session and resumes only after a pause") {
  SessionHarness h;
  h.ready("s", 3);
  h.close(4008);
  REQUIRE(h.session.session_id() == "s");
  REQUIRE(delay_until_connect(h) >= 10'000ms);
  h.clear();
  h.frame(k_hello);
  REQUIRE(sent_resume(h));
}

TEST_CASE("op 9 waits a few seconds before identifying again") {
  SessionHarness h;
  h.ready("s", 3);
  h.clear();
  h.frame(R"({"op":9,"d":false})");
  require_session_kept_on_close(h);
  REQUIRE(delay_until_connect(h) >= 3'000ms);
  h.clear();
  h.frame(k_hello);
  REQUIRE(h.taken<gw::RequestIdentify>().size() == 1);
}

TEST_CASE("4004 asks for a new token and resumes, a bounded number of times") {
  gw::SessionSettings settings;
  settings.max_bounded_retries = 3;
  SessionHarness h(settings);
  h.ready("s", 5);
  for (unsigned attempt = 0; attempt < 3; ++attempt) {
    h.clear();
    h.close(4004);
    REQUIRE(h.taken<gw::RefreshToken>().size() == 1);
    REQUIRE(h.taken<gw::Stopped>().empty());
    h.session.set_token("QQBot fresh-" + std::to_string(attempt));
    h.reconnect();
    h.clear();
    h.frame(k_hello);
    REQUIRE(sent_resume(h));
    // Every Resume carries the token current at the time it is sent.
    REQUIRE(h.sent()[0].find("QQBot fresh-" + std::to_string(attempt)) != std::string::npos);
  }
  h.clear();
  h.close(4004);
  auto stopped = h.taken<gw::Stopped>();
  REQUIRE(stopped.size() == 1);
  REQUIRE(stopped[0].category == StopCategory::credentials);
  REQUIRE(h.session.phase() == Phase::stopped);
}

TEST_CASE("after 4004 the next connection waits for the new token, however long the refresh takes") {
  SessionHarness h;
  h.ready("s", 5);
  h.clear();
  h.close(4004);
  REQUIRE(h.taken<gw::RefreshToken>().size() == 1);
  // The reconnect delay passes long before the token endpoint answers: no connection with the refused token.
  h.clear();
  h.advance(10min);
  REQUIRE(h.taken<gw::Connect>().empty());
  REQUIRE(h.session.phase() == Phase::waiting_to_reconnect);
  h.session.on_token("QQBot renewed", h.now, h.actions);
  REQUIRE(h.taken<gw::Connect>().size() == 1);
  h.connect();
  h.clear();
  h.frame(k_hello);
  REQUIRE(sent_resume(h));
  REQUIRE(h.sent()[0].find("QQBot renewed") != std::string::npos);
}

TEST_CASE("a token that arrives during the reconnect delay does not shorten it") {
  SessionHarness h;
  h.ready("s", 5);
  h.close(4004);
  h.clear();
  h.session.on_token("QQBot renewed", h.now, h.actions);
  REQUIRE(h.taken<gw::Connect>().empty());
  h.reconnect();
  h.clear();
  h.frame(k_hello);
  REQUIRE(h.sent()[0].find("QQBot renewed") != std::string::npos);
}

TEST_CASE("a routine token renewal never starts a connection") {
  SessionHarness h;
  h.ready("s", 5);
  h.close(4009);
  h.clear();
  h.session.on_token("QQBot renewed", h.now, h.actions);
  REQUIRE(h.taken<gw::Connect>().empty());
  h.reconnect();
}

TEST_CASE("4001 identifies again with backoff, then stops the shard") {
  gw::SessionSettings settings;
  settings.max_bounded_retries = 2;
  SessionHarness h(settings);
  h.ready("s", 1);
  for (int attempt = 0; attempt < 2; ++attempt) {
    h.clear();
    h.close(4001);
    REQUIRE(h.taken<gw::Stopped>().empty());
    h.reconnect();
    h.clear();
    h.frame(k_hello);
    REQUIRE(h.taken<gw::RequestIdentify>().size() == 1);
    h.permit();
  }
  h.clear();
  h.close(4002);
  auto stopped = h.taken<gw::Stopped>();
  REQUIRE(stopped.size() == 1);
  REQUIRE(stopped[0].category == StopCategory::other);
  REQUIRE(stopped[0].message.find("4002") != std::string::npos);
}

TEST_CASE("an unknown close code resumes") {
  SessionHarness h;
  h.ready("s", 2);
  h.close(4321, "something new");
  REQUIRE(h.session.session_id() == "s");
  h.reconnect();
  h.clear();
  h.frame(k_hello);
  REQUIRE(sent_resume(h));
}

TEST_CASE("fatal close codes stop the shard for good, with the exit category") {
  const std::pair<int, StopCategory> fatal[] = {
      {4010, StopCategory::configuration}, {4012, StopCategory::other},
      {4013, StopCategory::configuration}, {4014, StopCategory::configuration},
      {4914, StopCategory::credentials},   {4915, StopCategory::credentials},
  };
  for (const auto& [code, category] : fatal) {
    INFO(code);
    SessionHarness h;
    h.ready("s", 1);
    h.clear();
    h.close(code);
    auto stopped = h.taken<gw::Stopped>();
    REQUIRE(stopped.size() == 1);
    REQUIRE(stopped[0].category == category);
    REQUIRE(stopped[0].message.find(std::to_string(code)) != std::string::npos);
    REQUIRE(h.taken<gw::Connect>().empty());
    REQUIRE_FALSE(h.session.next_deadline());
    h.advance(3'600'000ms);
    REQUIRE(h.taken<gw::Connect>().empty());
  }
}

TEST_CASE("reconnect delays grow with full jitter up to a minute, and reset after a stable connection") {
  gw::SessionSettings settings;
  settings.random_seed = 42;
  SessionHarness h(settings);
  h.ready("s", 1);
  relay::util::Millis longest{0};
  for (int attempt = 0; attempt < 20; ++attempt) {
    h.close(1006);
    const auto delay = delay_until_connect(h);
    if (attempt == 0) {
      REQUIRE(delay <= 1'000ms);
    }
    REQUIRE(delay <= 60'000ms);
    longest = std::max(longest, delay);
    h.frame(k_hello);
  }
  REQUIRE(longest > 10'000ms);  // the delays did grow
  // A connection that stays up for a minute resets the backoff.
  h.frame(R"({"op":0,"s":2,"t":"RESUMED","d":""})");
  h.frame(R"({"op":11})");
  h.advance(30'000ms);
  h.frame(R"({"op":11})");
  h.advance(31'000ms);
  h.frame(R"({"op":11})");
  h.close(1006);
  REQUIRE(delay_until_connect(h) <= 1'000ms);
}

TEST_CASE("no READY after Identify closes without ending anything and identifies again") {
  SessionHarness h;
  h.start();
  h.connect();
  h.frame(k_hello);
  h.permit();
  h.clear();
  h.advance(20'000ms);
  REQUIRE(h.taken<gw::Close>().size() == 1);
  require_session_kept_on_close(h);
  h.reconnect();
  h.clear();
  h.frame(k_hello);
  REQUIRE(h.taken<gw::RequestIdentify>().size() == 1);
}

TEST_CASE("a graceful shutdown keeps the session for the next run") {
  SessionHarness h;
  h.ready("keep-me", 1);
  h.frame(R"({"op":0,"s":2,"t":"C2C_MESSAGE_CREATE","id":"e2","d":{}})");
  h.clear();
  h.session.shutdown(h.actions);
  auto closes = h.taken<gw::Close>();
  REQUIRE(closes.size() == 1);
  REQUIRE(closes[0].code == gw::k_close_keep_session);
  auto changes = h.taken<gw::StateChanged>();
  REQUIRE(changes.size() == 1);
  REQUIRE(changes[0].state == gw::ShardState::disconnected);
  REQUIRE(changes[0].will_resume);
  REQUIRE(changes[0].close_code == 0);  // the relay closed the connection itself
  REQUIRE(changes[0].reason == "relay shutting down");
  REQUIRE(h.session.session_id() == "keep-me");
  REQUIRE(h.session.last_published_seq() == 2u);
  REQUIRE_FALSE(h.session.next_deadline());
}

TEST_CASE("a shutdown that discards the session tells subscribers it will not resume") {
  SessionHarness h;
  h.ready("resharded", 1);
  h.clear();
  h.session.shutdown(h.actions, "resharding", false);
  auto changes = h.taken<gw::StateChanged>();
  REQUIRE(changes.size() == 1);
  REQUIRE_FALSE(changes[0].will_resume);
  REQUIRE(changes[0].reason == "resharding");
}

TEST_CASE("a restored session resumes from its saved position and drops what it already published") {
  SessionHarness h;
  h.session.restore("saved-session", 41);
  h.start();
  h.connect();
  h.clear();
  h.frame(k_hello);
  REQUIRE(h.sent().size() == 1);
  REQUIRE(h.sent()[0] ==
          R"({"op":6,"d":{"token":"QQBot test-token","session_id":"saved-session","seq":41}})");
  h.clear();
  h.frame(R"({"op":0,"s":41,"t":"C2C_MESSAGE_CREATE","id":"old","d":{}})");
  h.frame(R"({"op":0,"s":42,"t":"C2C_MESSAGE_CREATE","id":"new","d":{}})");
  h.frame(R"({"op":0,"s":43,"t":"RESUMED","d":""})");
  auto published = h.taken<gw::Publish>();
  REQUIRE(published.size() == 2);
  REQUIRE(published[0].seq == 42u);
  REQUIRE(h.session.counters().duplicates_dropped == 1);
  REQUIRE(h.session.phase() == Phase::ready);
}

TEST_CASE("a restored session the platform refuses falls back to identify") {
  SessionHarness h;
  h.session.restore("expired", 7);
  h.start();
  h.connect();
  h.frame(k_hello);
  h.frame(R"({"op":9,"d":false})");
  REQUIRE(h.session.session_id().empty());
  h.reconnect();
  h.clear();
  h.frame(k_hello);
  REQUIRE(h.taken<gw::RequestIdentify>().size() == 1);
}
