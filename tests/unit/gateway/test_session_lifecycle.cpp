#include <catch2/catch.hpp>

#include "session_harness.hpp"

using namespace std::chrono_literals;
using relay::gateway::Phase;
using relay::test::SessionHarness;
namespace gw = relay::gateway;

TEST_CASE("a new session connects, waits for Hello, asks the pacer, then identifies") {
  gw::SessionSettings settings;
  settings.shard = {2, 4};
  settings.intents = 1u | (1u << 30);
  SessionHarness h(settings);
  h.start();
  REQUIRE(h.taken<gw::Connect>().size() == 1);
  REQUIRE(h.session.phase() == Phase::connecting);
  h.connect();
  REQUIRE(h.sent().empty());
  h.frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
  REQUIRE(h.taken<gw::RequestIdentify>().size() == 1);
  REQUIRE(h.sent().empty());
  h.permit();
  REQUIRE(
      h.sent() ==
      std::vector<std::string>{
          R"({"op":2,"d":{"token":"QQBot test-token","intents":1073741825,"shard":[2,4],)"
          R"("properties":{"$os":"linux","$browser":"qq-gateway-relay","$device":"qq-gateway-relay"}}})"});
  REQUIRE(h.session.phase() == Phase::identifying);
}

TEST_CASE("READY stores the session id and is published like any Dispatch") {
  SessionHarness h;
  h.ready("082ee18c-0be3", 1);
  REQUIRE(h.session.phase() == Phase::ready);
  REQUIRE(h.session.session_id() == "082ee18c-0be3");
  auto published = h.taken<gw::Publish>();
  REQUIRE(published.size() == 1);
  REQUIRE(published[0].event_type == "READY");
  REQUIRE(published[0].seq == 1u);
  REQUIRE(published[0].frame.substr(0, 12) == R"({"op":0,"s":)");
}

TEST_CASE("heartbeats go out at the Hello interval and carry the last s") {
  SessionHarness h;
  h.start();
  h.connect();
  h.frame(R"({"op":10,"d":{"heartbeat_interval":30000}})");
  h.clear();
  h.advance(29'999ms);
  REQUIRE(h.sent().empty());
  h.advance(1ms);
  REQUIRE(h.sent() == std::vector<std::string>{R"({"op":1,"d":null})"});  // nothing received yet
  h.frame(R"({"op":11})");
  h.permit();
  h.frame(R"({"op":0,"s":1,"t":"READY","d":{"session_id":"a","shard":[0,1]}})");
  h.frame(R"({"op":0,"s":7,"t":"AT_MESSAGE_CREATE","id":"AT_MESSAGE_CREATE:x","d":{}})");
  h.clear();
  h.advance(30'000ms);
  REQUIRE(h.sent() == std::vector<std::string>{R"({"op":1,"d":7})"});
  h.frame(R"({"op":11})");
  h.clear();
  h.advance(30'000ms);
  REQUIRE(h.sent() == std::vector<std::string>{R"({"op":1,"d":7})"});
  REQUIRE(h.session.counters().heartbeat_acks == 2);
}

TEST_CASE("a heartbeat with no ACK by the next one closes the zombie and resumes") {
  SessionHarness h;
  h.ready("s-zombie", 1);
  h.frame(R"({"op":0,"s":5,"t":"C2C_MESSAGE_CREATE","d":{}})");
  h.advance(45'000ms);  // heartbeat 1, never acknowledged
  h.clear();
  h.advance(45'000ms);
  auto closes = h.taken<gw::Close>();
  REQUIRE(closes.size() == 1);
  REQUIRE(closes[0].code != 1000);
  REQUIRE(closes[0].code != 1001);
  REQUIRE(h.session.counters().zombies == 1);
  // It reconnects at once and resumes from the last published s.
  REQUIRE(h.taken<gw::Connect>().size() == 1);
  h.clear();
  h.connect();
  h.frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
  REQUIRE(h.sent() == std::vector<std::string>{
                          R"({"op":6,"d":{"token":"QQBot test-token","session_id":"s-zombie","seq":5}})"});
  REQUIRE(h.taken<gw::RequestIdentify>().empty());
}

TEST_CASE("a server op 1 gets an immediate heartbeat") {
  SessionHarness h;
  h.ready("s", 3);
  h.clear();
  h.frame(R"({"op":1,"d":null})");
  REQUIRE(h.sent() == std::vector<std::string>{R"({"op":1,"d":3})"});
}

TEST_CASE("no Hello within the timeout closes and retries") {
  gw::SessionSettings settings;
  settings.hello_timeout = 5'000ms;
  SessionHarness h(settings);
  h.start();
  h.connect();
  h.clear();
  h.advance(5'000ms);
  REQUIRE(h.taken<gw::Close>().size() == 1);
  REQUIRE(h.session.phase() == Phase::waiting_to_reconnect);
}

TEST_CASE("events already published are dropped after a resume replays them") {
  SessionHarness h;
  h.ready("s", 1);
  h.frame(R"({"op":0,"s":2,"t":"X","d":{}})");
  h.frame(R"({"op":0,"s":3,"t":"X","d":{}})");
  h.close(4009);
  h.advance(0ms);
  h.connect();
  h.frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
  h.clear();
  h.frame(R"({"op":0,"s":3,"t":"X","d":{}})");  // replayed
  h.frame(R"({"op":0,"s":4,"t":"X","d":{}})");
  h.frame(R"({"op":0,"s":5,"t":"RESUMED","d":""})");
  auto published = h.taken<gw::Publish>();
  REQUIRE(published.size() == 2);
  REQUIRE(published[0].seq == 4u);
  REQUIRE(published[1].event_type == "RESUMED");
  REQUIRE(h.session.counters().duplicates_dropped == 1);
}

TEST_CASE("a malformed Dispatch is not published, but its s is passed: a resume does not ask for it again") {
  SessionHarness h;
  h.ready("s", 1);
  h.clear();
  h.frame(R"({"op":0,"s":2,"t":"X","d":{"a":tru}})");
  h.frame(R"({"op":0,"s":3,"t":"X","d":{}} and more)");
  REQUIRE(h.taken<gw::Publish>().empty());
  REQUIRE(h.session.counters().malformed_dispatches == 2);
  REQUIRE(h.session.last_published_seq() == 3u);
  h.advance(45'000ms);
  auto heartbeats = h.taken<gw::Send>();
  REQUIRE(heartbeats.size() == 1);
  REQUIRE(heartbeats[0].text == R"({"op":1,"d":3})");
  h.close(4009);
  h.advance(0ms);
  h.connect();
  h.clear();
  h.frame(R"({"op":10,"d":{"heartbeat_interval":45000}})");
  auto resume = h.taken<gw::Send>();
  REQUIRE(resume.size() == 1);
  REQUIRE(resume[0].text.find(R"("seq":3)") != std::string::npos);
  h.frame(R"({"op":0,"s":3,"t":"X","d":{}} and more)");  // replayed: a repeat now, not a poison pill
  h.frame(R"({"op":0,"s":4,"t":"X","d":{}})");
  auto published = h.taken<gw::Publish>();
  REQUIRE(published.size() == 1);
  REQUIRE(published[0].seq == 4u);
  REQUIRE(h.session.counters().duplicates_dropped == 1);
}
