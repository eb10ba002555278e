#include "cluster/trouble_log.hpp"

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>

using relay::cluster::TroubleLog;
using relay::util::Millis;
using relay::util::TimePoint;

namespace {
// Captures what the default logger writes while it lives.
struct CapturedLog {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  CapturedLog() { spdlog::default_logger()->sinks().push_back(sink); }
  ~CapturedLog() { spdlog::default_logger()->sinks().pop_back(); }
  std::vector<std::string> lines() const { return sink->last_formatted(); }
};
}  // namespace

TEST_CASE("an outage logs its first failure, one line per period, and its end once") {
  CapturedLog log;
  TroubleLog trouble(Millis(10'000));
  TimePoint now{Millis(1'000'000)};
  trouble.success(now);             // nothing was wrong: nothing to say
  for (int i = 0; i < 1000; ++i) {  // 1000 failures over 25 s
    trouble.failure("heartbeat", "disconnected", now);
    now += Millis(25);
  }
  CHECK(trouble.in_trouble());
  trouble.success(now);
  trouble.success(now);
  CHECK_FALSE(trouble.in_trouble());
  const auto lines = log.lines();
  REQUIRE(lines.size() == 4);  // the first, at 10 s, at 20 s, back
  CHECK_THAT(lines[0], Catch::Contains("Redis command failed: heartbeat: disconnected"));
  CHECK_THAT(lines[1], Catch::Contains("still failing for 10 s: 400 more failures"));
  CHECK_THAT(lines[2], Catch::Contains("still failing for 20 s: 400 more failures"));
  CHECK_THAT(lines[3], Catch::Contains("Redis is back after 25000 ms (1000 failed commands)"));
}
