#include <cstdint>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "../support/run_loop.hpp"
#include "app/heap_trimmer.hpp"

using relay::app::HeapTrimmer;
using relay::publish::OutgoingMessage;
using relay::util::Millis;

TEST_CASE("the heap is trimmed once churn has stopped for the quiet period, never while it goes on") {
  relay::ingress::EventLoop loop;
  int trims = 0;
  relay::util::TimePoint trimmed_at{};
  HeapTrimmer trimmer(loop, Millis(40), [&] {
    ++trims;
    trimmed_at = loop.now();
  });
  // Churn every 10 ms for 200 ms: each resets the quiet period.
  int churns = 0;
  relay::util::TimePoint last_churn{};
  std::unique_ptr<relay::ingress::Timer> ticker;
  ticker = std::make_unique<relay::ingress::Timer>(loop, [&] {
    trimmer.note_churn();
    last_churn = loop.now();
    if (++churns < 20) {
      ticker->schedule_in(Millis(10));
    }
  });
  ticker->schedule_in(Millis(0));
  REQUIRE(relay::test::run_loop_until(loop, [&] { return churns == 20 && trims > 0; }));
  REQUIRE(trims == 1);
  REQUIRE(trimmed_at >= last_churn + Millis(40));
  REQUIRE(trimmer.trims() == 1);
}

TEST_CASE("only large published messages count as churn") {
  // One event loop at a time: libwebsockets contexts alive side by side leak OpenSSL state under
  // LeakSanitizer.
  int trims = 0;
  const std::string small(100, 'x');
  const std::string large(HeapTrimmer::k_large_message_bytes + 1, 'x');
  OutgoingMessage message;
  {
    relay::ingress::EventLoop loop;
    HeapTrimmer trimmer(loop, Millis(1), [&] { ++trims; });
    message.body = small;
    trimmer.deliver(message);
    // Nothing was scheduled: a probe timer later than the quiet period runs first and finds no trim.
    bool probed = false;
    relay::ingress::Timer probe(loop, [&] { probed = true; });
    probe.schedule_in(Millis(20));
    REQUIRE(relay::test::run_loop_until(loop, [&] { return probed; }));
    REQUIRE(trims == 0);
  }
  relay::ingress::EventLoop loop;
  HeapTrimmer trimmer(loop, Millis(1), [&] { ++trims; });
  message.body = large;
  trimmer.deliver(message);
  REQUIRE(relay::test::run_loop_until(loop, [&] { return trims == 1; }));
}

TEST_CASE("a burst of small messages counts as churn once it reaches k_burst_messages") {
  const std::string small(100, 'x');
  OutgoingMessage message;
  message.body = small;
  relay::ingress::EventLoop loop;
  int trims = 0;
  HeapTrimmer trimmer(loop, Millis(1), [&] { ++trims; });
  const auto deliver = [&](std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) {
      trimmer.deliver(message);
    }
  };
  // One short of a burst, then a probe later than the quiet period: no trim. Then the last message of the
  // burst: a trim. Then one short of a burst again (the count starts over): still one trim at the second
  // probe.
  int trims_at_first_probe = -1;
  int trims_at_second_probe = -1;
  bool second_armed = false;
  relay::ingress::Timer second_probe(loop, [&] { trims_at_second_probe = trims; });
  relay::ingress::Timer first_probe(loop, [&] {
    trims_at_first_probe = trims;
    deliver(1);
  });
  deliver(HeapTrimmer::k_burst_messages - 1);
  first_probe.schedule_in(Millis(20));
  REQUIRE(relay::test::run_loop_until(loop, [&] {
    if (trims == 1 && !second_armed) {
      second_armed = true;
      deliver(HeapTrimmer::k_burst_messages - 1);
      second_probe.schedule_in(Millis(20));
    }
    return trims_at_second_probe >= 0;
  }));
  REQUIRE(trims_at_first_probe == 0);
  REQUIRE(trims_at_second_probe == 1);
  REQUIRE(trims == 1);
}
