#pragma once

#include "util/time.hpp"

namespace relay::util {

// Exponential backoff with full jitter: the n-th delay is uniform in [0, min(cap, base * 2^n)].
// The random draw is passed in so that callers (and tests) control it.
class Backoff {
 public:
  Backoff(Millis base, Millis cap) : m_base(base), m_cap(cap) {}

  // `unit_random` must be in [0, 1).
  Millis next(double unit_random);
  void reset() { m_attempt = 0; }
  unsigned attempt() const { return m_attempt; }

 private:
  Millis m_base;
  Millis m_cap;
  unsigned m_attempt = 0;
};

}  // namespace relay::util
