#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "util/time.hpp"

namespace relay::util {

// Lets a repeated log line through at most once per interval (monotonic time) and counts the ones it held
// back, so that a flood of bad input never becomes a flood of log lines.
class LogThrottle {
 public:
  explicit LogThrottle(Millis interval = std::chrono::seconds(10)) : m_interval(interval) {}

  // True when a line may be written now. Otherwise the line is counted as held back.
  bool allow(TimePoint now) {
    if (m_last && now - *m_last < m_interval) {
      ++m_held_back;
      return false;
    }
    m_last = now;
    return true;
  }
  // How many lines were held back since the last one let through; resets the count.
  std::uint64_t take_held_back() { return std::exchange(m_held_back, 0); }
  // The same, as the end of the line let through: " (N more in the last 10 s not logged)", or "" for none.
  std::string take_held_back_note() {
    const std::uint64_t held_back = take_held_back();
    if (held_back == 0) {
      return {};
    }
    return " (" + std::to_string(held_back) + " more in the last " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(m_interval).count()) +
           " s not logged)";
  }

 private:
  Millis m_interval;
  std::optional<TimePoint> m_last;
  std::uint64_t m_held_back = 0;
};

}  // namespace relay::util
