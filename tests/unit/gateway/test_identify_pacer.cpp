#include <catch2/catch.hpp>

#include "gateway/identify_pacer.hpp"

using namespace std::chrono_literals;
using relay::gateway::IdentifyPacer;

TEST_CASE("the pacer grants at most max_concurrency identifies per window") {
  IdentifyPacer pacer(2);
  relay::util::TimePoint now{};
  for (unsigned shard = 0; shard < 5; ++shard) {
    pacer.enqueue(shard);
  }
  std::vector<unsigned> granted;
  pacer.poll(now, granted);
  REQUIRE(granted == std::vector<unsigned>{0, 1});
  REQUIRE(pacer.next_deadline(now) == now + IdentifyPacer::k_default_window);
  pacer.poll(now + 5'000ms, granted);
  REQUIRE(granted.size() == 2);
  pacer.poll(now + IdentifyPacer::k_default_window, granted);
  REQUIRE(granted == std::vector<unsigned>{0, 1, 2, 3});
  pacer.poll(now + 2 * IdentifyPacer::k_default_window, granted);
  REQUIRE(granted == std::vector<unsigned>{0, 1, 2, 3, 4});
  REQUIRE_FALSE(pacer.next_deadline(now));
}

TEST_CASE("the pacer waits for the daily quota to reset, then for the new figures") {
  IdentifyPacer pacer(4);
  relay::util::TimePoint now{};
  pacer.set_limits(4, 1, now + 60'000ms);
  pacer.enqueue(0);
  pacer.enqueue(1);
  std::vector<unsigned> granted;
  pacer.poll(now, granted);
  REQUIRE(granted == std::vector<unsigned>{0});
  REQUIRE(pacer.waiting_for_quota(now));
  REQUIRE_FALSE(pacer.needs_limits(now));
  REQUIRE(pacer.next_deadline(now) == now + 60'000ms);
  pacer.poll(now + 59'000ms, granted);
  REQUIRE(granted.size() == 1);
  // The reset time has passed, but how many starts the new day allows is only known from /gateway/bot.
  pacer.poll(now + 60'000ms, granted);
  REQUIRE(granted.size() == 1);
  REQUIRE(pacer.needs_limits(now + 60'000ms));
  REQUIRE_FALSE(pacer.next_deadline(now + 60'000ms));
  pacer.set_limits(4, 1, now + 86'400'000ms);
  pacer.poll(now + 61'000ms, granted);
  REQUIRE(granted == std::vector<unsigned>{0, 1});
  pacer.enqueue(2);
  pacer.poll(now + 70'000ms, granted);
  REQUIRE(granted.size() == 2);  // the new day's single start is spent
  REQUIRE(pacer.waiting_for_quota(now + 70'000ms));
}

TEST_CASE("a shard queued twice keeps one place, and a cancelled shard is skipped") {
  IdentifyPacer pacer(1);
  pacer.enqueue(3);
  pacer.enqueue(3);
  pacer.enqueue(4);
  pacer.cancel(3);
  REQUIRE(pacer.queued() == 1);
  std::vector<unsigned> granted;
  pacer.poll({}, granted);
  REQUIRE(granted == std::vector<unsigned>{4});
}

TEST_CASE("the pacer's window is configurable") {
  IdentifyPacer pacer(1, 200ms);
  relay::util::TimePoint now{};
  pacer.enqueue(0);
  pacer.enqueue(1);
  std::vector<unsigned> granted;
  pacer.poll(now, granted);
  REQUIRE(granted == std::vector<unsigned>{0});
  REQUIRE(pacer.next_deadline(now) == now + 200ms);
  pacer.poll(now + 199ms, granted);
  REQUIRE(granted.size() == 1);
  pacer.poll(now + 200ms, granted);
  REQUIRE(granted == std::vector<unsigned>{0, 1});
}
