// Logs Redis trouble without flooding the log during an outage: the first failure at once, then one line per
// period with the number of failures since, and "Redis is back" once when a command succeeds again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/time.hpp"

namespace relay::cluster {

class TroubleLog {
 public:
  explicit TroubleLog(util::Millis period = util::Millis(10'000)) : m_period(period) {}

  void failure(std::string_view what, std::string_view reason, util::TimePoint now);
  void success(util::TimePoint now);
  bool in_trouble() const { return m_since.has_value(); }

 private:
  util::Millis m_period;
  std::optional<util::TimePoint> m_since;  // the first failure of this outage
  util::TimePoint m_last_line{};
  std::uint64_t m_failures = 0;  // in this outage
  std::uint64_t m_unlogged = 0;  // since the last line
  std::string m_last;            // the latest failure, for the periodic line
};

}  // namespace relay::cluster
