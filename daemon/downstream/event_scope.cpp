#include "downstream/event_scope.hpp"

#include "protocol/event_intents.hpp"

namespace relay::downstream {

EventFacts::EventFacts(const FrameLayout& layout) : m_layout(layout) {
  m_deliverable = is_dispatch(layout) && layout.t != "READY" && layout.t != "RESUMED";
  if (m_deliverable) {
    m_intent = protocol::intent_of_event(layout.t);
  }
}

bool EventFacts::in(const SessionScope& scope) {
  if (!m_deliverable) {
    return false;
  }
  if (m_intent && (scope.intents & *m_intent) == 0) {
    return false;
  }
  if (scope.shard_count <= 1) {
    return true;
  }
  if (!m_key) {
    m_key = protocol::routing_key(m_layout.t, m_layout.d);
  }
  return protocol::shard_of(*m_key, scope.shard_count) == scope.shard_index;
}

}  // namespace relay::downstream
