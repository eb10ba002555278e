#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "util/time.hpp"

namespace relay::gateway {

// The one gate every Identify of the process passes (SPEC section 10): at most `max_concurrency` Identifies
// in any window (the platform's 5 seconds), and none while the platform's daily `remaining` is spent. Resumes
// never come here.
class IdentifyPacer {
 public:
  // The default window carries a safety margin over the platform's 5 s so that network jitter cannot squeeze
  // two bursts into one platform window. Only tests against the simulator set a shorter one
  // (gateway.identify_window_ms).
  static constexpr util::Millis k_default_window{5'250};

  explicit IdentifyPacer(unsigned max_concurrency = 1, util::Millis window = k_default_window)
      : m_max_concurrency(max_concurrency ? max_concurrency : 1), m_window(window) {}

  util::Millis window() const { return m_window; }

  // From /gateway/bot: `remaining` session starts until `reset_at`.
  void set_limits(unsigned max_concurrency, std::uint64_t remaining, util::TimePoint reset_at);

  // Queues a shard for an Identify; a shard already queued keeps its place.
  void enqueue(unsigned shard);
  void cancel(unsigned shard);

  // Moves the shards whose turn has come into `granted`, in queue order.
  void poll(util::TimePoint now, std::vector<unsigned>& granted);

  // When poll could next grant something, if anything is queued.
  std::optional<util::TimePoint> next_deadline(util::TimePoint now) const;

  std::size_t queued() const { return m_queue.size(); }
  std::uint64_t remaining() const { return m_remaining; }
  // True while queued shards wait for the daily quota rather than the window.
  bool waiting_for_quota(util::TimePoint now) const;
  // The quota was spent and its reset time has passed: nothing is granted until set_limits brings the new
  // figures from /gateway/bot, so that a later storm cannot spend a quota the relay no longer knows.
  bool needs_limits(util::TimePoint now) const { return m_remaining == 0 && now >= m_reset_at; }
  util::TimePoint quota_reset_at() const { return m_reset_at; }

 private:
  void forget_old(util::TimePoint now);

  unsigned m_max_concurrency;
  util::Millis m_window;
  std::uint64_t m_remaining = UINT64_MAX;
  util::TimePoint m_reset_at{};
  std::deque<util::TimePoint> m_recent;
  std::deque<unsigned> m_queue;
};

}  // namespace relay::gateway
