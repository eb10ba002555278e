#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "publish/seen_gate.hpp"

using relay::publish::HeldMessage;
using relay::publish::MessageInfo;
using relay::publish::SeenGate;

namespace {

struct Recorder {
  std::vector<std::function<void(bool)>> answers;
  std::vector<std::string> asked;
  std::vector<std::string> released;  // "<type>:<body>:<event_id>:<first>"

  SeenGate gate{[this](std::string_view id, std::function<void(bool)> answer) {
                  asked.emplace_back(id);
                  answers.push_back(std::move(answer));
                },
                [this](const HeldMessage& m, bool first) {
                  released.push_back(m.type + ":" + m.body + ":" + std::string(m.info.event_id) + ":" +
                                     (first ? "1" : "0"));
                }};
};

MessageInfo with_id(std::string_view id) {  // ids are literals: the view outlives the test
  MessageInfo info;
  info.event_id = id;
  return info;
}

}  // namespace

TEST_CASE("seen gate: messages leave in arrival order whatever order the answers come in") {
  Recorder r;
  r.gate.submit("A", "1", with_id("e1"));
  r.gate.submit("A", "2", with_id("e2"));
  r.gate.submit("A", "3", with_id("e3"));
  REQUIRE(r.asked == std::vector<std::string>{"e1", "e2", "e3"});
  r.answers[2](true);
  r.answers[1](false);
  CHECK(r.released.empty());
  CHECK(r.gate.held() == 3);
  r.answers[0](true);
  CHECK(r.released == std::vector<std::string>{"A:1:e1:1", "A:2:e2:0", "A:3:e3:1"});
  CHECK(r.gate.held() == 0);
  CHECK(r.gate.counters().repeats == 1);
  CHECK(r.gate.counters().checked == 3);
}

TEST_CASE("seen gate: a message without an event id is not checked but waits for the ones before it") {
  Recorder r;
  r.gate.submit("A", "1", with_id("e1"));
  r.gate.submit("relay.shard", "ctl", MessageInfo{});
  CHECK(r.asked.size() == 1);
  CHECK(r.released.empty());
  r.answers[0](true);
  CHECK(r.released == std::vector<std::string>{"A:1:e1:1", "relay.shard:ctl::1"});
}

TEST_CASE(
    "seen gate: an answer given at once releases at once, and the held copy outlives the caller's bytes") {
  std::vector<std::string> released;
  SeenGate gate(
      [](std::string_view, std::function<void(bool)> answer) { answer(true); },
      [&](const HeldMessage& m, bool) { released.push_back(m.body + "/" + std::string(m.info.session_id)); });
  {
    std::string body = "payload";
    std::string session = "sess";
    MessageInfo info = with_id("e9");
    info.session_id = session;
    gate.submit("T", body, info);
    body.assign(body.size(), 'x');
    session.assign(session.size(), 'y');
  }
  CHECK(released == std::vector<std::string>{"payload/sess"});
}

TEST_CASE("seen gate: an answer arriving after the gate is gone is ignored") {
  std::function<void(bool)> late;
  int released = 0;
  {
    SeenGate gate([&](std::string_view, std::function<void(bool)> answer) { late = std::move(answer); },
                  [&](const HeldMessage&, bool) { ++released; });
    gate.submit("T", "b", with_id("e1"));
  }
  late(true);
  CHECK(released == 0);
}

TEST_CASE("seen gate: answering twice, or for a released message, changes nothing") {
  Recorder r;
  r.gate.submit("A", "1", with_id("e1"));
  r.answers[0](true);
  r.answers[0](false);
  r.gate.submit("A", "2", with_id("e2"));
  r.answers[0](true);
  CHECK(r.released == std::vector<std::string>{"A:1:e1:1"});
  r.answers[1](true);
  CHECK(r.released.size() == 2);
}
