// Waiting in tests: on a condition with a deadline, never for a fixed time followed by an assertion.
#pragma once

#include <poll.h>

#include <chrono>
#include <thread>

namespace relay::test {

// Generous: reached only when the behaviour under test is broken, so it costs nothing in a passing run.
inline constexpr std::chrono::milliseconds k_wait_limit{5000};

// Checks `done` until it holds or `timeout` passes, sleeping `step` between checks; true if it held.
// `done` may also do work (serve a socket, run a step) before it answers.
template <class Predicate>
bool wait_until(Predicate&& done, std::chrono::milliseconds timeout = k_wait_limit,
                std::chrono::milliseconds step = std::chrono::milliseconds(1)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(step);
  }
  return true;
}

// True once `fd` has one of `events` (POLLIN, POLLOUT), false if `timeout` passes first.
inline bool wait_for_fd(int fd, short events, std::chrono::milliseconds timeout = k_wait_limit) {
  pollfd entry{fd, events, 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int ready = ::poll(&entry, 1, static_cast<int>(left.count() > 0 ? left.count() : 0));
    if (ready > 0) {
      return (entry.revents & (events | POLLERR | POLLHUP)) != 0;
    }
    if (ready == 0 || left.count() <= 0) {
      return false;
    }
    // ready < 0: interrupted by a signal; poll again for what is left.
  }
}

}  // namespace relay::test
