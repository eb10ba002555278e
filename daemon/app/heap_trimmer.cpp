#include "app/heap_trimmer.hpp"

#include "app/allocator.hpp"

namespace relay::app {

HeapTrimmer::HeapTrimmer(ingress::EventLoop& loop, util::Millis quiet, Trim trim)
    : m_quiet(quiet),
      m_trim(trim ? std::move(trim) : Trim([] { Allocator::current().release_free_memory(); })),
      m_timer(loop, [this] { trim_when_quiet(); }) {}

void HeapTrimmer::deliver(const publish::OutgoingMessage& message) {
  if (message.body.size() > k_large_message_bytes) {
    note_churn();
  } else if (m_in_burst) {
    m_churned = true;  // the burst goes on; a flag, not a clock read per message
  } else if (++m_messages_since_trim >= k_burst_messages) {
    m_in_burst = true;
    note_churn();
  }
}

void HeapTrimmer::note_churn() {
  m_churned = true;
  if (!m_scheduled) {
    m_scheduled = true;
    m_timer.schedule_in(m_quiet);
  }
}

void HeapTrimmer::trim_when_quiet() {
  if (m_churned) {
    // Churn came during the last period: wait for a whole quiet one.
    m_churned = false;
    m_timer.schedule_in(m_quiet);
    return;
  }
  m_scheduled = false;
  m_in_burst = false;
  m_messages_since_trim = 0;
  ++m_trims;
  m_trim();
}

}  // namespace relay::app
