#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "../support/run_loop.hpp"
#include "app/loop_lag.hpp"

using relay::app::LoopLagMeter;
using relay::app::LoopLagProbe;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST_CASE("the loop lag meter keeps the largest of the last ten records and a cumulative histogram") {
  LoopLagMeter meter;
  REQUIRE(meter.recent_max_seconds() == 0);
  meter.record(microseconds(300));        // 0.0003 s: first bucket
  meter.record(microseconds(2'500'000));  // 2.5 s: the 10 s bucket
  meter.record(microseconds(-5));         // a timer never runs early; counted as on time
  REQUIRE(meter.recent_max_seconds() == Approx(2.5));
  REQUIRE(meter.count() == 3);
  REQUIRE(meter.sum_seconds() == Approx(2.5003));
  const auto buckets = meter.cumulative_buckets();
  REQUIRE(buckets[0] == 2);  // le 0.001
  REQUIRE(buckets[4] == 2);  // le 1
  REQUIRE(buckets[5] == 3);  // le 10
  for (int i = 0; i < 8; ++i) {
    meter.record(microseconds(1000));
  }
  // The 2.5 s record is the tenth from last: still covered. One more pushes it out.
  REQUIRE(meter.recent_max_seconds() == Approx(2.5));
  meter.record(microseconds(1000));
  REQUIRE(meter.recent_max_seconds() == Approx(0.001));
  meter.record(microseconds(20'000'000));        // past the last bound: only +Inf (count) holds it
  REQUIRE(meter.cumulative_buckets()[5] == 12);  // every record but that one
  REQUIRE(meter.count() == 13);
}

TEST_CASE("the probe records how long a callback held the loop") {
  relay::ingress::EventLoop loop;
  LoopLagProbe probe(loop, milliseconds(20));
  // A callback due before the probe holds the loop for 150 ms: the probe runs at least 130 ms late, and goes
  // on from there.
  relay::ingress::Timer hog(loop, [] { std::this_thread::sleep_for(milliseconds(150)); });
  hog.schedule_in(milliseconds(5));
  REQUIRE(relay::test::run_loop_until(
      loop, [&] { return probe.meter().recent_max_seconds() >= 0.13 && probe.meter().count() >= 3; }));
  REQUIRE(probe.meter().sum_seconds() >= 0.13);
}
