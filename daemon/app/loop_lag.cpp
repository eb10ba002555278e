#include "app/loop_lag.hpp"

#include <algorithm>

namespace relay::app {

void LoopLagMeter::record(std::chrono::microseconds late) {
  const double seconds = static_cast<double>(std::max<std::chrono::microseconds::rep>(late.count(), 0)) / 1e6;
  for (std::size_t i = 0; i < k_buckets.size(); ++i) {
    if (seconds <= k_buckets[i]) {
      ++m_buckets[i];
      break;
    }
  }
  m_recent[m_next] = seconds;
  m_next = (m_next + 1) % k_recent;
  ++m_count;
  m_sum_seconds += seconds;
}

double LoopLagMeter::recent_max_seconds() const {
  return *std::max_element(m_recent.begin(), m_recent.end());
}

std::array<std::uint64_t, LoopLagMeter::k_buckets.size()> LoopLagMeter::cumulative_buckets() const {
  std::array<std::uint64_t, k_buckets.size()> out{};
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < k_buckets.size(); ++i) {
    running += m_buckets[i];
    out[i] = running;
  }
  return out;
}

LoopLagProbe::LoopLagProbe(ingress::EventLoop& loop, util::Millis period)
    : m_loop(loop), m_period(period), m_timer(loop, [this] { fired(); }) {
  m_due = m_loop.now() + m_period;
  m_timer.schedule_at(m_due);
}

void LoopLagProbe::fired() {
  const util::TimePoint now = m_loop.now();
  m_meter.record(std::chrono::duration_cast<std::chrono::microseconds>(now - m_due));
  // The next due time from now, not from the missed one: a long stall is one late record, not a burst.
  m_due = now + m_period;
  m_timer.schedule_at(m_due);
}

}  // namespace relay::app
