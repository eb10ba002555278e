// ClusterCoordinator's duplicate checks and identify pacing against a real redis-server.
#include <catch2/catch.hpp>

#include "coordinator_fixture.hpp"

using namespace relay::test;
using relay::ingress::EventLoop;
using relay::util::TimePoint;

namespace {
struct Answer {
  std::string who;
  int index;
  bool first;
};
}  // namespace

TEST_CASE("cluster: an event id checked by a second relay is a repeat, and answers keep their order") {
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 2, 0);
  Node& a = *nodes[0];
  Node& b = *nodes[1];
  std::vector<Answer> answers;
  const auto check = [&](Node& node, const std::string& who, int index, const std::string& id) {
    node->check_seen(id, [&answers, &node, who, index, id](bool first) {
      answers.push_back({who, index, first});
      if (first) {
        node->mark_seen(id);  // as the relay does once it has published the event
      }
    });
  };
  Steps steps{{
      [&] { return a->redis_connected() && b->redis_connected(); },
      [&] {
        for (int i = 0; i < 10; ++i) {
          check(a, "a", i, "e" + std::to_string(i));
        }
        return true;
      },
      [&] { return answers.size() == 10; },
      [&] {
        for (int i = 10; i < 20; ++i) {
          check(a, "a", i, "e" + std::to_string(i % 10));  // published by now: repeats
        }
        return true;
      },
      [&] { return answers.size() == 20; },
      [&] {
        check(b, "b", 0, "e3");
        check(b, "b", 1, "new");
        check(b, "b", 2, "e9");
        return true;
      },
      [&] { return answers.size() == 23; },
      // Redis gone between checks: the failed ones let the events through, still in order.
      [&] {
        check(a, "a", 20, "e0");
        server.kill();
        check(a, "a", 21, "fresh");
        check(a, "a", 22, "e1");
        return true;
      },
      [&] { return answers.size() == 26; },
  }};
  run_steps(loop, steps, std::chrono::seconds(10));
  for (int i = 0; i < 20; ++i) {
    INFO(i);
    CHECK(answers[i].who == "a");
    CHECK(answers[i].index == i);
    CHECK(answers[i].first == (i < 10));
  }
  CHECK(answers[20].who == "b");
  CHECK_FALSE(answers[20].first);
  CHECK(answers[21].first);
  CHECK_FALSE(answers[22].first);
  CHECK(b->counters().duplicates == 2);
  for (int i = 0; i < 3; ++i) {
    CHECK(answers[23 + i].index == 20 + i);
  }
  CHECK(answers[24].first);  // unchecked: let through
  CHECK(answers[25].first);
  CHECK(a->counters().duplicates == 10);
  CHECK(a->counters().unchecked >= 2);
}

TEST_CASE(
    "cluster: a check records nothing: an event id checked but never published is new to the next relay") {
  // A relay killed between the check and the publish: the next owner of the shard must publish the platform's
  // replay of the event, or it is lost.
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 2, 0);
  Node& a = *nodes[0];
  Node& b = *nodes[1];
  std::vector<bool> a_answers, b_answers;
  Steps steps{{
      [&] { return a->redis_connected() && b->redis_connected(); },
      [&] {
        a->check_seen("checked-only", [&](bool first) { a_answers.push_back(first); });
        a->check_seen("published", [&](bool first) { a_answers.push_back(first); });
        a->mark_seen("published");
        return true;
      },
      [&] { return a_answers.size() == 2; },
      [&] {
        b->check_seen("checked-only", [&](bool first) { b_answers.push_back(first); });
        b->check_seen("published", [&](bool first) { b_answers.push_back(first); });
        return true;
      },
      [&] { return b_answers.size() == 2; },
  }};
  run_steps(loop, steps, std::chrono::seconds(10));
  CHECK(a_answers == std::vector<bool>{true, true});
  CHECK(b_answers == std::vector<bool>{true, false});
  CHECK(b->counters().duplicates == 1);
}

TEST_CASE("cluster: two relays identifying in one bucket are a window apart, other buckets go at once") {
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 2, 0);
  Node& a = *nodes[0];
  Node& b = *nodes[1];
  constexpr relay::util::Millis window{600};
  std::optional<TimePoint> a_at, b_at, other_at;
  TimePoint asked{};
  Steps steps{{
      [&] { return a->redis_connected() && b->redis_connected(); },
      [&] {
        asked = loop.now();
        a->pace_identify(0, 2, window, [&] { a_at = loop.now(); });
        b->pace_identify(2, 2, window, [&] { b_at = loop.now(); });  // 2 % 2: the same bucket
        b->pace_identify(1, 2, window, [&] { other_at = loop.now(); });
        return true;
      },
      [&] { return a_at && b_at && other_at; },
  }};
  run_steps(loop, steps, std::chrono::seconds(10));
  const auto first = std::min(*a_at, *b_at);
  const auto second = std::max(*a_at, *b_at);
  const auto gap = std::chrono::duration_cast<relay::util::Millis>(second - first);
  INFO("gap " << gap.count() << " ms");
  CHECK(gap >= window - relay::util::Millis(20));
  // The waiter retries when the slot frees, and gets it then: not told in the slot's last millisecond to wait
  // one more window.
  CHECK(gap < window + window / 2);
  CHECK(std::chrono::duration_cast<relay::util::Millis>(*other_at - asked) < window / 2);
  CHECK(a->counters().identify_waits + b->counters().identify_waits >= 1);
}

TEST_CASE("cluster: a spent daily quota holds identifies until it resets, and is only ever lowered") {
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 2, 0);
  Node& a = *nodes[0];
  Node& b = *nodes[1];
  Probe probe(loop, server);
  constexpr relay::util::Millis reset{1000};
  std::optional<TimePoint> a_at, b_at;
  TimePoint noted{};
  Steps steps{{
      [&] { return a->redis_connected() && b->redis_connected(); },
      [&] {
        noted = loop.now();
        a->note_quota(1, reset);
        a->note_quota(5, reset);  // higher than what is stored: ignored
        a->pace_identify(0, 2, relay::util::Millis(100), [&] { a_at = loop.now(); });
        return true;
      },
      [&] { return a_at.has_value(); },
      [&] {
        probe.send({"GET", "test:app:identify:quota"});
        b->pace_identify(1, 2, relay::util::Millis(100), [&] { b_at = loop.now(); });  // another bucket
        return true;
      },
      [&] { return probe.answered() && b_at.has_value(); },
  }};
  run_steps(loop, steps, std::chrono::seconds(10));
  CHECK(probe.reply().text == "0");  // 1, not 5, and a took the one start
  const auto waited = std::chrono::duration_cast<relay::util::Millis>(*b_at - noted);
  INFO("b identified " << waited.count() << " ms after the quota was noted");
  CHECK(waited >= reset - relay::util::Millis(100));
  CHECK(b->counters().identify_waits >= 1);
  CHECK(a->counters().identify_waits == 0);
}

TEST_CASE("cluster: identify proceeds at once when Redis is unreachable") {
  RedisServer server;
  EventLoop loop;
  auto nodes = start_nodes(loop, server, 1, 0);
  Node& a = *nodes[0];
  bool proceeded = false;
  TimePoint asked{};
  Steps steps{{
      [&] { return a->redis_connected(); },
      [&] {
        server.kill();
        return true;
      },
      [&] { return !a->redis_connected(); },
      [&] {
        asked = loop.now();
        a->pace_identify(0, 1, relay::util::Millis(5000), [&] { proceeded = true; });
        return true;
      },
      [&] { return proceeded; },
  }};
  run_steps(loop, steps, std::chrono::seconds(10));
  CHECK(since(loop, asked) < relay::util::Millis(600));
}
