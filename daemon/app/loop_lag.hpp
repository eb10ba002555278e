#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "ingress/event_loop.hpp"
#include "util/time.hpp"

namespace relay::app {

// How late the event loop runs a timer. Every shard, listener and the publishing share the one loop thread,
// so a callback that holds it (a blocking call, a long burst) delays everything else; this is where that
// shows. Pure: lateness in, numbers out (LoopLagProbe feeds it from a real timer).
class LoopLagMeter {
 public:
  // Upper bounds of the histogram's buckets, in seconds.
  static constexpr std::array<double, 6> k_buckets{0.001, 0.005, 0.025, 0.1, 1, 10};
  // How many of the latest records recent_max() covers: ten seconds at one probe a second.
  static constexpr std::size_t k_recent = 10;

  void record(std::chrono::microseconds late);

  // The largest lateness among the last k_recent records, in seconds.
  double recent_max_seconds() const;
  // Per bucket of k_buckets, the records at most that late (cumulative, as Prometheus wants them).
  std::array<std::uint64_t, k_buckets.size()> cumulative_buckets() const;
  std::uint64_t count() const { return m_count; }
  double sum_seconds() const { return m_sum_seconds; }

 private:
  std::array<std::uint64_t, k_buckets.size()> m_buckets{};  // not cumulative
  std::array<double, k_recent> m_recent{};
  std::size_t m_next = 0;
  std::uint64_t m_count = 0;
  double m_sum_seconds = 0;
};

// A timer due every `period` on the loop; each firing records how long after its due time it ran.
class LoopLagProbe {
 public:
  static constexpr util::Millis k_default_period{1'000};

  explicit LoopLagProbe(ingress::EventLoop& loop, util::Millis period = k_default_period);
  const LoopLagMeter& meter() const { return m_meter; }

 private:
  void fired();

  ingress::EventLoop& m_loop;
  util::Millis m_period;
  ingress::Timer m_timer;
  util::TimePoint m_due;
  LoopLagMeter m_meter;
};

}  // namespace relay::app
