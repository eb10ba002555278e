#include <catch2/catch.hpp>

#include "orchestrator_harness.hpp"

using namespace std::chrono_literals;
namespace gw = relay::gateway;
using relay::test::Harness;
using relay::test::info;
using relay::test::k_window;
using relay::test::settings;
using relay::util::Millis;
using relay::util::TimePoint;

TEST_CASE("discovery starts when the token arrives, once at a time") {
  Harness h;
  h.orchestrator.on_token(h.now, h.actions);
  REQUIRE(h.fetches(gw::InfoPurpose::discovery) == 1);
  h.orchestrator.on_token(h.now, h.actions);  // a refreshed token while the request is in flight
  REQUIRE(h.fetches(gw::InfoPurpose::discovery) == 1);
  h.orchestrator.on_discovered(info(2), h.now, h.actions);
  REQUIRE(h.started() == std::vector<unsigned>{0, 1});
  h.clear();
  h.orchestrator.on_token(h.now, h.actions);  // a refresh while the layout runs
  REQUIRE(h.actions.empty());
}

TEST_CASE("a failed discovery is retried with growing full-jitter backoff, never before its time") {
  Harness h;
  h.orchestrator.on_token(h.now, h.actions);
  Millis ceiling{1'000};
  for (int attempt = 0; attempt < 10; ++attempt) {
    h.clear();
    h.orchestrator.on_discovery_failed(gw::InfoFailure::request_failed, h.now, h.actions);
    const auto delayed = h.taken<gw::DiscoveryDelayed>();
    REQUIRE(delayed.size() == 1);
    REQUIRE(delayed[0].reason == gw::DelayReason::request_failed);
    const Millis delay = delayed[0].delay;
    REQUIRE(delay >= 500ms);
    REQUIRE(delay <= std::max(ceiling, Millis(500)));
    REQUIRE(h.orchestrator.next_deadline() == h.now + delay);
    h.advance(delay - 1ms);
    REQUIRE(h.fetches(gw::InfoPurpose::discovery) == 0);
    h.advance(1ms);
    REQUIRE(h.fetches(gw::InfoPurpose::discovery) == 1);
    ceiling = std::min(ceiling * 2, Millis(60'000));
  }
  // A usable answer resets the backoff: the next failure waits at most the base again.
  h.orchestrator.on_discovered(info(1), h.now, h.actions);
  h.orchestrator.on_reshard_requested(0, h.now, h.actions);
  h.advance(0ms);
  h.clear();
  h.orchestrator.on_discovery_failed(gw::InfoFailure::unusable_response, h.now, h.actions);
  const auto delayed = h.taken<gw::DiscoveryDelayed>();
  REQUIRE(delayed.size() == 1);
  REQUIRE(delayed[0].reason == gw::DelayReason::unusable_response);
  REQUIRE(delayed[0].delay <= 1'000ms);
}

TEST_CASE("a refused token is replaced before discovering again, and an unusable URL waits a minute") {
  Harness h;
  h.orchestrator.on_token(h.now, h.actions);
  h.clear();
  h.orchestrator.on_discovery_failed(gw::InfoFailure::token_refused, h.now, h.actions);
  REQUIRE(h.taken<gw::InvalidateToken>().size() == 1);
  REQUIRE_FALSE(h.orchestrator.next_deadline());  // the new token starts the next discovery
  h.orchestrator.on_token(h.now, h.actions);
  REQUIRE(h.fetches(gw::InfoPurpose::discovery) == 1);

  h.clear();
  auto answer = info(1);
  answer.url = "wss://";  // no host
  h.orchestrator.on_discovered(answer, h.now, h.actions);
  const auto delayed = h.taken<gw::DiscoveryDelayed>();
  REQUIRE(delayed.size() == 1);
  REQUIRE(delayed[0].reason == gw::DelayReason::unusable_url);
  REQUIRE(delayed[0].url == "wss://");
  REQUIRE(h.orchestrator.next_deadline() == h.now + 60'000ms);
  REQUIRE(h.taken<gw::StartLayout>().empty());
}

TEST_CASE("too few session starts left: nothing starts until reset_after, then /gateway/bot is asked again") {
  Harness h;
  h.start(info(3, 2, 1, 30'000));
  REQUIRE(h.taken<gw::StartLayout>().empty());
  REQUIRE(h.started().empty());
  const auto delayed = h.taken<gw::DiscoveryDelayed>();
  REQUIRE(delayed.size() == 1);
  REQUIRE(delayed[0].reason == gw::DelayReason::quota_short);
  REQUIRE(delayed[0].remaining == 2);
  REQUIRE(delayed[0].starts_needed == 3);
  REQUIRE(delayed[0].delay == 30'000ms);
  h.clear();
  h.advance(29'999ms);
  REQUIRE(h.fetches(gw::InfoPurpose::discovery) == 0);
  h.orchestrator.on_token(h.now, h.actions);  // a token refresh does not cut the wait short
  REQUIRE(h.fetches(gw::InfoPurpose::discovery) == 0);
  h.advance(1ms);
  REQUIRE(h.fetches(gw::InfoPurpose::discovery) == 1);
  h.orchestrator.on_discovered(info(3, 3), h.now, h.actions);
  REQUIRE(h.started() == std::vector<unsigned>{0, 1, 2});
}

TEST_CASE("a quota short with no reset_after waits a second rather than asking in a loop") {
  Harness h;
  h.start(info(2, 0, 1, 0));
  const auto delayed = h.taken<gw::DiscoveryDelayed>();
  REQUIRE(delayed.size() == 1);
  REQUIRE(delayed[0].delay == 1'000ms);
}

TEST_CASE("identifies pass at most max_concurrency per configured window, across every shard") {
  Harness h;
  h.start(info(5, 1000, 2));
  h.clear();
  std::vector<std::pair<unsigned, TimePoint>> grants;
  const auto record = [&] {
    for (const unsigned index : h.permitted()) {
      grants.emplace_back(index, h.now);
    }
    h.clear();
  };
  for (unsigned index = 0; index < 5; ++index) {
    h.orchestrator.on_identify_requested(index, h.now);
  }
  REQUIRE(h.permitted().empty());  // never granted inside the shard's own call
  const TimePoint begin = h.now;
  for (int step = 0; step < 10; ++step) {
    if (auto deadline = h.orchestrator.next_deadline()) {
      h.now = *deadline;
      h.orchestrator.on_tick(h.now, h.actions);
      record();
    }
  }
  REQUIRE(grants.size() == 5);
  for (unsigned i = 0; i < 5; ++i) {
    REQUIRE(grants[i].first == i);  // in request order
  }
  REQUIRE(grants[0].second == begin);
  REQUIRE(grants[1].second == begin);
  REQUIRE(grants[2].second == begin + k_window);
  REQUIRE(grants[3].second == begin + k_window);
  REQUIRE(grants[4].second == begin + 2 * k_window);
  REQUIRE_FALSE(h.orchestrator.next_deadline());
}

TEST_CASE("a shard that disconnects while queued is not granted a slot") {
  Harness h;
  h.start(info(3));
  h.clear();
  h.orchestrator.on_identify_requested(0, h.now);
  h.orchestrator.on_identify_requested(1, h.now);
  h.orchestrator.on_identify_requested(2, h.now);
  h.orchestrator.on_shard_disconnected(1);
  h.advance(3 * k_window);
  REQUIRE(h.permitted() == std::vector<unsigned>{0, 2});
}

TEST_CASE("identifies wait for the daily quota, then the new figures from /gateway/bot") {
  Harness h;
  h.start(info(3, 3, 3, 60'000));
  h.clear();
  h.orchestrator.on_identify_requested(0, h.now);
  h.orchestrator.on_identify_requested(1, h.now);
  h.orchestrator.on_identify_requested(2, h.now);
  h.advance(0ms);
  REQUIRE(h.permitted() == std::vector<unsigned>{0, 1, 2});
  h.clear();
  // The quota is spent: a storm queues, and waits for the reset.
  const TimePoint reset = h.now + 60'000ms;
  h.orchestrator.on_identify_requested(0, h.now);
  h.orchestrator.on_identify_requested(1, h.now);
  h.advance(0ms);
  REQUIRE(h.permitted().empty());
  const auto waiting = h.taken<gw::WaitingForQuota>();
  REQUIRE(waiting.size() == 1);
  REQUIRE(waiting[0].queued == 2);
  REQUIRE(waiting[0].until == reset);
  h.clear();
  h.advance(59'999ms);
  REQUIRE(h.actions.empty());
  h.advance(1ms);
  REQUIRE(h.permitted().empty());  // the new day's figure is not assumed
  REQUIRE(h.fetches(gw::InfoPurpose::limits) == 1);
  h.clear();
  // A failed request is retried with backoff.
  h.orchestrator.on_limits_failed(gw::InfoFailure::token_refused, h.now, h.actions);
  REQUIRE(h.taken<gw::InvalidateToken>().size() == 1);
  const auto retry = h.taken<gw::LimitsDelayed>();
  REQUIRE(retry.size() == 1);
  h.clear();
  h.advance(retry[0].delay);
  REQUIRE(h.fetches(gw::InfoPurpose::limits) == 1);
  h.clear();
  h.orchestrator.on_limits(info(3, 1, 3, 86'400'000), h.now, h.actions);
  REQUIRE(h.permitted() == std::vector<unsigned>{0});  // the new day allows one start
  REQUIRE(h.taken<gw::WaitingForQuota>().size() == 1);
}

TEST_CASE("saved sessions of the same layout resume: no session start, no identify slot") {
  auto s = settings();
  s.saved_sessions = {{{0, 2}, "sess-0", 10}, {{1, 2}, "sess-1", 20}};
  Harness h(s);
  REQUIRE(h.orchestrator.saved_sessions().size() == 2);
  h.start(info(2, 0));  // no session start left: resumes need none
  const auto starts = h.taken<gw::StartShard>();
  REQUIRE(starts.size() == 2);
  REQUIRE(starts[0].resume);
  REQUIRE(starts[0].resume->session_id == "sess-0");
  REQUIRE(starts[0].resume->seq == 10);
  REQUIRE(starts[1].resume);
  REQUIRE(starts[1].resume->session_id == "sess-1");
  REQUIRE(h.taken<gw::StartLayout>().at(0).discarded_sessions == 0);
  REQUIRE(h.orchestrator.saved_sessions().empty());
  REQUIRE_FALSE(h.orchestrator.next_deadline());  // nothing queued for the pacer
}

TEST_CASE("saved sessions of another shard count are dropped, and every shard needs a session start") {
  auto s = settings();
  s.saved_sessions = {{{0, 3}, "a", 1}, {{1, 3}, "b", 1}, {{2, 3}, "c", 1}};
  Harness h(s);
  h.start(info(2, 1));
  REQUIRE(h.taken<gw::DiscoveryDelayed>().at(0).starts_needed == 2);
  h.clear();
  h.advance(86'400'000ms);
  h.orchestrator.on_discovered(info(2, 2), h.now, h.actions);
  const auto layout = h.taken<gw::StartLayout>();
  REQUIRE(layout.size() == 1);
  REQUIRE(layout[0].discarded_sessions == 3);
  REQUIRE(layout[0].discarded_count == 3);
  for (const auto& start : h.taken<gw::StartShard>()) {
    REQUIRE_FALSE(start.resume);
  }
}

TEST_CASE("some shards saved: only the others need a session start") {
  auto s = settings();
  s.saved_sessions = {{{1, 3}, "b", 5}};
  Harness h(s);
  h.start(info(3, 2));
  const auto starts = h.taken<gw::StartShard>();
  REQUIRE(starts.size() == 3);
  REQUIRE_FALSE(starts[0].resume);
  REQUIRE(starts[1].resume);
  REQUIRE_FALSE(starts[2].resume);
}

TEST_CASE("4011 stops and discards every shard, and the next layout has at least one more shard") {
  Harness h;
  h.start(info(2, 1000, 2));
  REQUIRE(h.orchestrator.layout_count() == 2);
  h.clear();
  h.orchestrator.on_identify_requested(1, h.now);
  // Both shards are closed with 4011: one reshard, never inside the shard's own call.
  h.orchestrator.on_reshard_requested(0, h.now, h.actions);
  h.orchestrator.on_reshard_requested(0, h.now, h.actions);
  REQUIRE(h.actions.empty());
  h.advance(0ms);
  const auto stops = h.taken<gw::StopShards>();
  REQUIRE(stops.size() == 1);
  REQUIRE(stops[0].discard);
  REQUIRE_FALSE(stops[0].will_resume);
  REQUIRE(h.permitted().empty());  // the old layout's queue is gone
  REQUIRE(h.fetches(gw::InfoPurpose::discovery) == 1);
  REQUIRE(h.orchestrator.layout_count() == 0);
  h.clear();
  h.orchestrator.on_discovered(info(2), h.now, h.actions);  // the API still suggests 2
  const auto layout = h.taken<gw::StartLayout>();
  REQUIRE(layout.size() == 1);
  REQUIRE(layout[0].count == 3);
  REQUIRE(layout[0].requested == 2);
  REQUIRE(h.started() == std::vector<unsigned>{0, 1, 2});
  for (const auto& start : h.taken<gw::StartShard>()) {
    REQUIRE(start.shard.count == 3);
  }
  // The old layout's request for a slot died with it: the new shard 1 asks again when it has its Hello.
  h.orchestrator.on_identify_requested(0, h.now);
  h.advance(10 * k_window);
  REQUIRE(h.permitted() == std::vector<unsigned>{0});
}

TEST_CASE("the shard count follows /gateway/bot at each layout unless configuration fixes it") {
  SECTION("suggested count grows after a reshard") {
    Harness h;
    h.start(info(2));
    h.orchestrator.on_reshard_requested(0, h.now, h.actions);
    h.advance(0ms);
    h.clear();
    h.orchestrator.on_discovered(info(5), h.now, h.actions);
    REQUIRE(h.taken<gw::StartLayout>().at(0).count == 5);
    REQUIRE(h.started().size() == 5);
  }
  SECTION("configured count") {
    auto s = settings();
    s.shards = 4;
    Harness h(s);
    h.start(info(1));
    REQUIRE(h.taken<gw::StartLayout>().at(0).count == 4);
    REQUIRE(h.started() == std::vector<unsigned>{0, 1, 2, 3});
  }
}

TEST_CASE("owned shards restrict which shards start and how many session starts are needed") {
  Harness h;
  h.orchestrator.set_owned_shards(std::vector<unsigned>{1, 3});
  h.start(info(4, 1, 1, 10'000));
  const auto delayed = h.taken<gw::DiscoveryDelayed>();
  REQUIRE(delayed.size() == 1);
  REQUIRE(delayed[0].starts_needed == 2);
  h.clear();
  h.advance(10'000ms);
  h.orchestrator.on_discovered(info(4, 2), h.now, h.actions);
  REQUIRE(h.taken<gw::StartLayout>().at(0).count == 4);
  REQUIRE(h.started() == std::vector<unsigned>{1, 3});
  for (const auto& start : h.taken<gw::StartShard>()) {
    REQUIRE(start.shard.count == 4);
  }
}

TEST_CASE("shutdown stops every shard keeping its session, and nothing more starts") {
  Harness h;
  h.orchestrator.on_token(h.now, h.actions);
  h.orchestrator.on_discovery_failed(gw::InfoFailure::request_failed, h.now, h.actions);
  h.clear();
  h.orchestrator.shutdown(h.actions);
  const auto stops = h.taken<gw::StopShards>();
  REQUIRE(stops.size() == 1);
  REQUIRE(stops[0].will_resume);
  REQUIRE_FALSE(stops[0].discard);
  REQUIRE_FALSE(h.orchestrator.next_deadline());
  h.clear();
  h.orchestrator.on_token(h.now, h.actions);
  h.orchestrator.on_discovered(info(1), h.now, h.actions);
  h.orchestrator.on_identify_requested(0, h.now);
  h.advance(120'000ms);
  REQUIRE(h.actions.empty());
}
