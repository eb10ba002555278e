#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "ingress/event_loop.hpp"
#include "publish/outlet.hpp"

namespace relay::app {

// malloc keeps freed memory resident: the buffers of large messages, ZeroMQ's queue after a burst, and what
// TLS handshakes and session starts allocate for a moment. This gives the free pages back
// (Allocator::release_free_memory) once such churn has stopped for `quiet`, so that idle shards are small
// again; never while it goes on, or the pages would be faulted straight back in. It watches the published
// messages as an outlet; session starts are reported with note_churn().
class HeapTrimmer final : public publish::Outlet {
 public:
  static constexpr util::Millis k_default_quiet{1'000};
  static constexpr std::size_t k_large_message_bytes = 16 * 1024;
  // This many messages since the last trim make a burst: from then on every message is churn, until the
  // stream pauses for `quiet`. ZeroMQ's queue for a subscriber that fell behind in a flood frees far more
  // than it keeps, and an idle relay makes no allocations that would let malloc give it back (after 800 000
  // events glibc kept 230 MiB and jemalloc 70 MiB, against 19 MiB before). A steady stream is trimmed at its
  // first pause.
  static constexpr std::uint64_t k_burst_messages = 100'000;

  using Trim = std::function<void()>;
  // `trim` defaults to Allocator::current().release_free_memory().
  explicit HeapTrimmer(ingress::EventLoop& loop, util::Millis quiet = k_default_quiet, Trim trim = {});

  void deliver(const publish::OutgoingMessage& message) override;
  // Memory was freed that is worth giving back once things are quiet.
  void note_churn();
  std::uint64_t trims() const { return m_trims; }

 private:
  void trim_when_quiet();

  util::Millis m_quiet;
  Trim m_trim;
  ingress::Timer m_timer;
  bool m_scheduled = false;
  std::uint64_t m_trims = 0;
  std::uint64_t m_messages_since_trim = 0;
  bool m_in_burst = false;
  bool m_churned = false;  // since the timer was last armed
};

}  // namespace relay::app
