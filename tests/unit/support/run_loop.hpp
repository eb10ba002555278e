// Running a real event loop in a test until a condition holds, with a deadline.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "ingress/event_loop.hpp"

namespace relay::test {

// Runs the loop until `done` (checked every `step`) or `limit`; true if `done` held. Once per loop: a stopped
// loop stays stopped.
inline bool run_loop_until(ingress::EventLoop& loop, const std::function<bool()>& done,
                           std::chrono::milliseconds limit = std::chrono::seconds(10),
                           util::Millis step = util::Millis(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool held = false;
  std::unique_ptr<ingress::Timer> poll;
  poll = std::make_unique<ingress::Timer>(loop, [&] {
    held = done();
    if (held || std::chrono::steady_clock::now() > deadline) {
      loop.stop();
    } else {
      poll->schedule_in(step);
    }
  });
  poll->schedule_in(step);
  loop.run();
  return held;
}

}  // namespace relay::test
