#pragma once

#include <chrono>
#include <cstdint>

namespace relay::util {

// Monotonic time drives every protocol timer; the gateway state machine only ever sees values of this type,
// handed in by its caller, so tests drive it with a fake clock.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

// Wall-clock microseconds since the Unix epoch, for metadata only (never for timers).
inline std::int64_t unix_micros_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace relay::util
