#include "app/heap_trimmer.hpp"

#include "app/allocator.hpp"

namespace relay::app {

HeapTrimmer::HeapTrimmer(ingress::EventLoop& loop, util::Millis quiet, Trim trim)
    : m_loop(loop),
      m_quiet(quiet),
      m_trim(trim ? std::move(trim) : Trim([] { Allocator::current().release_free_memory(); })),
      m_timer(loop, [this] { trim_when_quiet(); }) {}

void HeapTrimmer::deliver(const publish::OutgoingMessage& message) {
  if (message.body.size() > k_large_message_bytes) {
    note_churn();
  }
}

void HeapTrimmer::note_churn() {
  m_last_churn = m_loop.now();
  if (!m_scheduled) {
    m_scheduled = true;
    m_timer.schedule_in(m_quiet);
  }
}

void HeapTrimmer::trim_when_quiet() {
  const auto quiet_until = m_last_churn + m_quiet;
  if (m_loop.now() < quiet_until) {
    m_timer.schedule_at(quiet_until);
    return;
  }
  m_scheduled = false;
  ++m_trims;
  m_trim();
}

}  // namespace relay::app
