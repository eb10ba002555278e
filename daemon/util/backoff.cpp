#include "util/backoff.hpp"

#include <algorithm>

namespace relay::util {

Millis Backoff::next(double unit_random) {
  const unsigned shift = std::min(m_attempt, 30u);
  const auto ceiling = std::min<long long>(m_cap.count(), m_base.count() << shift);
  ++m_attempt;
  const double clamped = std::clamp(unit_random, 0.0, 1.0);
  return Millis(static_cast<long long>(static_cast<double>(ceiling) * clamped));
}

}  // namespace relay::util
